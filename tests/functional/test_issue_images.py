"""Images uploaded from the issue editor: checked, stripped of metadata, sized for email (and twice that
for sharp screens), stored once in the media bucket, and shown in the email, the archive and the feed."""
from __future__ import annotations

import io

import pytest
from urllib3 import encode_multipart_formdata

from tests.conftest import html_of
from tests.functional.test_newsletter_issues import card_fields
from tests.functional.test_newsletter_send import add_subscribers, new_issue, runner


def photo(width=2000, height=1000, fmt="JPEG", gps=True, orientation=None, mode="RGB", **save) -> bytes:
    """A photo as a phone writes it: EXIF with where it was taken and which way up the phone was."""
    from PIL import Image

    image = Image.new(mode, (width, height), (200, 40, 40, 128) if mode == "RGBA" else (200, 40, 40))
    image.paste((20, 90, 200) if mode == "RGB" else (20, 90, 200, 255), (0, 0, width // 4, height))  # a blue band on the left
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone 15"  # Model
    if orientation:
        exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (51.0, 31.0, 12.0), 3: "W", 4: (0.0, 12.0, 30.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), **save)
    return out.getvalue()


def upload(client, coordinator, issue_id, fields: dict, files: dict, action="upload-0"):
    parts = {"csrf_token": coordinator["csrf"], "action": action, **fields}
    parts.update({name: (filename, data, kind) for name, (filename, data, kind) in files.items()})
    body, content_type = encode_multipart_formdata(parts)
    return client.http.post(f"/coordinator/issues/{issue_id}/edit",
                            headers={**coordinator["headers"], "Content-Type": content_type}, body=body)


def image_issue(client, coordinator) -> tuple[str, dict]:
    from chalicelib import issues

    issue_id = new_issue()
    fields = card_fields(issues.get(issue_id))
    n = int(fields["section_count"])
    fields.update({"section_count": str(n + 1), f"section-{n}-kind": "image",
                   f"section-{n}-heading": "Our walk", f"section-{n}-body": "The group at the park."})
    return issue_id, fields


def stored_objects() -> dict[str, bytes]:
    from chalicelib import aws
    from chalicelib.settings import get_settings

    bucket = get_settings().media_bucket
    listed = aws.s3().list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: aws.s3().get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def opened(data: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(data))


def test_an_uploaded_photo_loses_its_location_and_comes_in_two_sizes_upright(client, coordinator):
    from chalicelib import images

    issue_id, fields = image_issue(client, coordinator)
    n = int(fields["section_count"]) - 1
    # Taken with the phone turned (EXIF orientation 6: rotate 90° to show it upright)
    original = photo(3000, 1500, orientation=6)
    assert b"PhoneMaker" in original and opened(original).getexif().get_ifd(0x8825)
    response = upload(client, coordinator, issue_id, fields,
                      {f"section-{n}-image_file": ("walk.jpg", original, "image/jpeg")}, action=f"upload-{n}")
    assert response.status_code == 200, response.body
    page = response.body.decode()
    assert f"Image uploaded for section {n + 1}. Now describe it for people who cannot see it." in page
    assert "Our walk" in page and "The group at the park." in page  # what was typed stays

    stored = stored_objects()
    assert len(stored) == 2
    email, sharp = sorted(stored, key=lambda key: "-2x" in key)
    assert images.KEY_PATTERN.fullmatch(email) and email.endswith("-1x.jpg") and sharp.endswith("-2x.jpg")
    assert f'value="https://peerpost.test/media/{email}"' in page
    for key, width in ((email, 600), (sharp, 1200)):
        data = stored[key]
        image = opened(data)
        assert image.format == "JPEG"
        assert image.size == (width, width * 2)  # upright: the turned 3000 x 1500 is 1500 x 3000
        assert not image.getexif() and b"PhoneMaker" not in data and b"Exif" not in data
    assert opened(stored[email]).getpixel((300, 10))[2] > 150  # the blue band is now along the top


def test_an_image_saved_with_its_description_reaches_the_email_and_the_archive_sharp(client, coordinator, outbox):
    from chalicelib import issues, send_run

    add_subscribers(2)
    issue_id, fields = image_issue(client, coordinator)
    n = int(fields["section_count"]) - 1
    fields[f"section-{n}-image_alt"] = "Eight people walking in a park"
    response = upload(client, coordinator, issue_id, fields,
                      {f"section-{n}-image_file": ("walk.png", photo(900, 300, fmt="PNG", gps=False), "image/png")},
                      action="save")
    assert response.status_code == 303, response.body  # chosen and saved in one press
    section = issues.get(issue_id)["sections"][n]
    assert section["image_url"].startswith("https://peerpost.test/media/images/") and section["image_url"].endswith("-1x.png")
    sharp = section["image_url"].replace("-1x.", "-2x.")
    assert opened(stored_objects()[sharp.split("/media/")[1]]).size == (900, 300)  # never wider than the upload

    send_run.start(issue_id, by="zoe@peerpost.test")
    runner().drain_all()
    html = html_of(outbox.to("reader0@example.org")[0])
    assert f'src="{section["image_url"]}"' in html and f'srcset="{section["image_url"]} 1x, {sharp} 2x"' in html
    assert 'alt="Eight people walking in a park"' in html

    address = issues.archive_path(issues.get(issue_id))
    archived = client.http.get(address).body.decode()
    assert f'<meta property="og:image" content="{sharp}">' in archived
    assert f'srcset="{section["image_url"]} 1x, {sharp} 2x"' in archived


@pytest.mark.parametrize("data, filename, message", [
    (b"%PDF-1.7 not an image at all", "minutes.pdf", "That file is not a PNG, JPEG, WebP or GIF image."),
    (b"GIF89a" + b"\x00" * 20, "broken.gif", "That file is not a PNG, JPEG, WebP or GIF image."),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", "That file is not a PNG, JPEG, WebP or GIF image."),
])
def test_a_file_that_is_not_an_image_is_refused_beside_its_card_and_nothing_is_stored(
        client, coordinator, data, filename, message):
    from chalicelib import issues

    issue_id, fields = image_issue(client, coordinator)
    before = issues.get(issue_id)
    n = int(fields["section_count"]) - 1
    fields["title"] = "Typed but not saved"
    response = upload(client, coordinator, issue_id, fields,
                      {f"section-{n}-image_file": (filename, data, "application/octet-stream")}, action="save")
    assert response.status_code == 400
    page = response.body.decode()
    assert message in page and f'id="section-{n}-image_file-error"' in page
    assert 'value="Typed but not saved"' in page and "The group at the park." in page
    assert stored_objects() == {}
    assert issues.get(issue_id) == before  # the refused save changed nothing


def test_an_image_too_big_is_refused_with_its_size_and_the_limit(client, coordinator):
    from chalicelib import images

    issue_id, fields = image_issue(client, coordinator)
    n = int(fields["section_count"]) - 1
    big = photo(400, 400)[:-2] + b"\x00" * (images.MAX_UPLOAD_BYTES + 1) + b"\xff\xd9"
    response = upload(client, coordinator, issue_id, fields, {f"section-{n}-image_file": ("big.jpg", big, "image/jpeg")},
                      action=f"upload-{n}")
    assert response.status_code == 413
    assert b"Upload one of at most 4.0 MB" in response.body and b"The group at the park." in response.body
    assert stored_objects() == {}


def test_a_huge_canvas_is_refused_before_it_is_decoded(client, coordinator):
    from PIL import Image

    issue_id, fields = image_issue(client, coordinator)
    n = int(fields["section_count"]) - 1
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG")  # a few KB on the wire, 144 million pixels decoded
    response = upload(client, coordinator, issue_id, fields,
                      {f"section-{n}-image_file": ("bomb.png", out.getvalue(), "image/png")}, action=f"upload-{n}")
    assert response.status_code == 413 and b"12000 \xc3\x97 12000 pixels" in response.body
    assert stored_objects() == {}


def test_webp_becomes_jpeg_transparency_stays_png_and_animation_keeps_moving():
    from PIL import Image

    from chalicelib import images

    webp = images.prepare(photo(800, 400, fmt="WEBP", gps=False))
    assert [r.content_type for r in webp] == ["image/jpeg", "image/jpeg"]  # email clients read JPEG everywhere

    out = io.BytesIO()
    Image.new("RGBA", (700, 350), (10, 10, 10, 0)).save(out, "PNG")
    clear = images.prepare(out.getvalue())
    assert clear[0].content_type == "image/png" and opened(clear[0].data).mode == "RGBA"
    assert opened(clear[0].data).getpixel((5, 5))[3] == 0

    frames = [Image.new("RGB", (1300, 650), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0, comment=b"secret note")
    moving = images.prepare(out.getvalue())
    gif = opened(moving[0].data)
    assert gif.format == "GIF" and gif.n_frames == 3 and gif.size == (600, 300)
    assert opened(moving[1].data).size == (1200, 600)
    assert b"secret note" not in moving[0].data and b"secret note" not in moving[1].data


def test_a_sent_issues_images_never_change_whatever_is_uploaded_later(client, coordinator):
    from chalicelib import aws, images

    first = images.store(photo(1000, 500, gps=False))
    kept = stored_objects()
    writes = []
    aws.s3().meta.events.register("before-call.s3.PutObject", lambda **kwargs: writes.append(1))
    again = images.store(photo(1000, 500, gps=False))
    assert again == first and writes == []  # the same upload is the same address, and nothing is rewritten
    other = images.store(photo(1000, 500, gps=False, quality=40))
    assert other.url != first.url and len(writes) == 2
    now = stored_objects()
    assert all(now[key] == data for key, data in kept.items())


def test_a_file_sent_to_a_form_that_takes_none_is_not_read_as_text(client):
    body, content_type = encode_multipart_formdata({"email": "a@example.org", "first_name": ("x.png", b"\x89PNG", "image/png")})
    response = client.http.post("/subscribe", headers={"Content-Type": content_type}, body=body)
    assert response.status_code in (200, 303, 400)
    assert b"x.png" not in response.body and b"Upload(" not in response.body
