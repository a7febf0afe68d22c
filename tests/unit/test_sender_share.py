"""How often a sender re-reads how many senders share the rate (delivery.SenderShare)."""
from __future__ import annotations


def test_the_share_is_read_every_two_seconds_while_all_senders_work_and_every_half_second_after(monkeypatch):
    from chalicelib import delivery, settings

    monkeypatch.setenv("PEERPOST_SEND_CONCURRENCY", "40")
    settings.reset()
    clock = [0.0]
    answers = iter([40, 40, 12, 5, 1])
    reads: list[float] = []

    def read(self) -> int:
        reads.append(clock[0])
        return next(answers)

    monkeypatch.setattr(delivery.SenderShare, "_read", read)
    share = delivery.SenderShare("issue", monotonic=lambda: clock[0])
    seen = []
    for step in range(55):  # 5.4 s, a copy every 0.1 s
        clock[0] = round(step * 0.1, 1)
        seen.append(share.senders())
    settings.reset()
    assert reads == [0.0, 2.0, 4.0, 4.5, 5.0]  # all forty at work: every 2 s; fewer: every 0.5 s
    assert seen[:40] == [40] * 40 and seen[40:45] == [12] * 5 and seen[45:50] == [5] * 5 and seen[50:] == [1] * 5
