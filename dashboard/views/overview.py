"""The overview: subscribers by language, area, topic and channel; opt-outs; messages this week."""

from __future__ import annotations

from flask import render_template

from dashboard import bp
from dashboard.charts import bar_chart
from dashboard.core import core
from dashboard.i18n import gettext as _
from dashboard.security import requires
from puente import reports
from puente.accounts.roles import Role


@bp.get("/")
@requires(Role.VIEWER)
def overview() -> str:
    services = core()
    with services.database.session(timeout=10) as session:
        data = reports.overview(session, services.clock())
    languages = {lang.code: lang.name for lang in services.languages}
    charts = {
        "language": bar_chart(
            _("Subscribers by language"),
            [(languages.get(k, k), v) for k, v in data.by_language.items()],
            chart_id="by-language",
        ),
        "area": bar_chart(
            _("Subscribers by area"),
            [(name, v) for (_id, name), v in data.by_area.items()][:12],
            chart_id="by-area",
        ),
        "topic": bar_chart(
            _("Subscribers by topic"),
            [(topic_name(k), v) for k, v in data.by_topic.items()],
            chart_id="by-topic",
        ),
        "channel": bar_chart(
            _("Subscribers by channel"),
            [(channel_name(k), v) for k, v in data.by_channel.items()],
            chart_id="by-channel",
        ),
        "week": bar_chart(
            _("Messages in (from people) and out (to people), the last seven days"),
            [
                item
                for day, n_in, n_out in data.daily
                for item in ((f"{day[5:]} ↓", n_in), (f"{day[5:]} ↑", n_out))
            ],
            colour_keys=[k for _day in data.daily for k in ("in", "out")],
            chart_id="by-day",
        ),
    }
    return render_template(
        "dashboard/overview.html", data=data, charts=charts, active="overview", language_names=languages
    )


def topic_name(topic: str) -> str:
    names = {
        "hearings": _("hearings"),
        "mobilization": _("mobilization"),
        "policy_updates": _("policy updates"),
        "clinics": _("clinics"),
    }
    return names.get(topic, topic)


def channel_name(channel: str) -> str:
    return {"sms": "SMS", "whatsapp": "WhatsApp"}.get(channel, channel)
