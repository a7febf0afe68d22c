"""PeerPost's table of contents: HTTP blueprints, scheduled handlers, queue and SNS handlers."""
from chalice import Chalice

from chalicelib import web, wiring
from chalicelib.routes import coordinator, public, subscriptions as subscription_routes
from chalicelib.routes import issues as issue_routes
from chalicelib.routes import events as event_routes
from chalicelib.routes import stories as story_routes
from chalicelib.routes import imports as import_routes
from chalicelib.routes import team as team_routes

# Logs are powertools JSON only (chalicelib/observability.py): Chalice's own plain handler on the same
# "peerpost" logger would print every line twice, once without its structure.
app = Chalice(app_name=wiring.SERVICE, configure_logs=False)
app.experimental_feature_flags.update(["BLUEPRINTS"])
# Forms that upload an image reach Lambda byte for byte (API Gateway base64-encodes binary media types).
app.api.binary_types.append("multipart/form-data")

app.register_blueprint(public.bp)
app.register_blueprint(subscription_routes.bp)
app.register_blueprint(coordinator.bp)
app.register_blueprint(issue_routes.bp)
app.register_blueprint(event_routes.bp)
app.register_blueprint(story_routes.bp)
app.register_blueprint(import_routes.bp)
app.register_blueprint(team_routes.bp)


@app.middleware("http")
def security_headers(event, get_response):
    return web.add_security_headers(get_response(event))


@app.middleware("all")
def observe(event, get_response):
    from chalicelib import observability

    observability.bind(event)
    return get_response(event)


@app.on_sns_message(topic=wiring.SES_EVENTS_TOPIC)
def ses_events(event):
    from chalicelib import ses_events as handler

    handler.handle(event.message)


@app.schedule("rate(1 hour)")
def purge_expired_signups(event):
    from chalicelib import subscriptions

    subscriptions.purge_expired_pending()


@app.schedule("rate(1 minute)")
def send_due_issues(event):
    from chalicelib import send_run

    send_run.start_due()


@app.on_sqs_message(queue=wiring.SIGNUP_QUEUE, batch_size=10)
def process_signups(event):
    from chalicelib import subscriptions

    return subscriptions.handle_signups(event.to_dict(), event.context)


@app.on_sqs_message(queue=wiring.IMPORT_QUEUE, batch_size=1)
def import_subscribers(event):
    from chalicelib import imports

    return imports.handle(event.to_dict(), event.context)


@app.on_sqs_message(queue=wiring.DISPATCH_QUEUE, batch_size=1)
def dispatch_issue(event):
    from chalicelib import send_run

    send_run.handle_dispatch(event)


# Its concurrency is set where it is deployed (infra/merge.py), from the SES rate, with the pacing.
@app.on_sqs_message(queue=wiring.SEND_QUEUE, batch_size=wiring.SEND_BATCH_SIZE)
def send_newsletter(event):
    from chalicelib import delivery

    return delivery.handle_send(event.to_dict(), event.context)


@app.schedule("rate(5 minutes)")
def pass_on_expired_offers(event):
    from chalicelib import events

    events.pass_on_expired_offers()


@app.schedule("rate(15 minutes)")
def send_event_reminders(event):
    from chalicelib import events

    events.send_reminders()


@app.schedule("rate(1 day)")
def anonymise_past_attendees(event):
    from chalicelib import events

    events.anonymise_past()


@app.schedule("rate(1 hour)")
def safeguarding_second_alerts(event):
    from chalicelib import moderation

    moderation.second_alerts()


@app.schedule("rate(1 day)")
def story_retention(event):
    from chalicelib import stories

    stories.apply_retention()
