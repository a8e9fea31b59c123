"""The default worksheet engine: rules and lexicons over the transcript and the risk engine's output (offline, CPU)."""

from __future__ import annotations

from collections.abc import Sequence

from service.types import RISK_LEVELS, FinalSegment, SegmentRisk
from service.worksheet.actions import draft_follow_up, draft_police, draft_referral
from service.worksheet.lexicon import load_lexicon
from service.worksheet.model import FieldDraft, WorksheetDraft
from service.worksheet.profile import draft_age_group, draft_gender, draft_location
from service.worksheet.risk_fields import (
    draft_ideation,
    draft_method,
    draft_plan,
    draft_prior_attempt,
    draft_protective,
    draft_ratings,
    draft_risk_level,
    draft_self_harm,
)
from service.worksheet.schema import WORKSHEET_FIELDS
from service.worksheet.summary import draft_summary
from service.worksheet.topics import (
    consultation,
    draft_call_type,
    draft_emotions,
    draft_problem_categories,
    finish_categories,
)
from service.worksheet.view import CallView

ENGINE = "rules"
RULES_VERSION = "1.2.0"
DESPAIR_RATING = 6


class RulesDrafter:
    """Drafts every worksheet field from final segments, per-segment risk labels and the call's final level."""

    engine = ENGINE

    def __init__(self) -> None:
        self.lexicon_version = load_lexicon().version
        self.version = f"{RULES_VERSION}+{self.lexicon_version}"

    def draft(self, segments: Sequence[FinalSegment], risks: Sequence[SegmentRisk], call_level: str) -> WorksheetDraft:
        if call_level not in RISK_LEVELS:
            raise ValueError(f"call_level must be one of {RISK_LEVELS}, not {call_level!r}")
        view = CallView.build(segments, risks)
        f: dict[str, FieldDraft] = {}
        f["caller_gender"] = draft_gender(view)
        f["caller_age_group"] = draft_age_group(view)
        f["risk_level"] = draft_risk_level(view, call_level)
        f["prior_attempt"] = draft_prior_attempt(view)
        f["suicidal_ideation"] = draft_ideation(view, f["prior_attempt"].value, call_level)
        f["suicide_plan"] = draft_plan(view)
        f["suicide_method"] = draft_method(view)
        f["self_harm"] = draft_self_harm(view)
        f["ideation_intensity"], f["hopelessness"] = draft_ratings(view)
        f["protective_factors"] = draft_protective(view)
        f["location_disclosed"] = draft_location(view)
        f["police_linkage"] = draft_police(view)
        f["referral"] = draft_referral(view)
        f["follow_up"] = draft_follow_up(view, f["police_linkage"])

        suicidal_ev = [s.segment_id for s in view.own_suicide_segments()]
        suicidal = bool(suicidal_ev) or f["suicidal_ideation"].value != "无" or f["prior_attempt"].value != "无"
        # the caller's own suicidal ideation means a call level of 低 at least (Beijing criteria): under 无 the
        # labels are the classifier's alone, which the risk engine does not count
        suicidal = suicidal and call_level != "无"
        problems, _, problem_ev = draft_problem_categories(view, {"self_harm": bool(f["self_harm"].value)})
        f["call_type"] = draft_call_type(view, suicidal, suicidal_ev, problems.value, call_level)
        f["problem_categories"] = finish_categories(problems, f["call_type"].value, consultation(view), problem_ev)
        hopeless = f["hopelessness"].value
        despair = f["suicidal_ideation"].value == "主动" or (hopeless is not None and hopeless >= DESPAIR_RATING)
        f["emotions"] = draft_emotions(view, f["call_type"].value, despair,
                                       f["hopelessness"].evidence or f["suicidal_ideation"].evidence)
        f["summary"] = draft_summary(view, f["call_type"].value, call_level, f["referral"],
                                     f["police_linkage"], f["follow_up"])

        known = view.ids
        for d in f.values():
            d.evidence = sorted({i for i in d.evidence if i in known})
        versions = {"worksheet_rules": RULES_VERSION, "lexicon": self.lexicon_version}
        if view.risk_versions:
            versions["risk"] = ",".join(view.risk_versions)
        return WorksheetDraft(fields={name: f[name] for name in WORKSHEET_FIELDS}, engine=ENGINE,
                              version=self.version, engine_versions=versions)
