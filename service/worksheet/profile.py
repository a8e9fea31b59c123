"""Who the caller is and where: gender and age group from what is said of oneself, and the disclosed location."""

from __future__ import annotations

import re

from service.worksheet.lexicon import load_lexicon, parse_number, rx
from service.worksheet.model import FieldDraft
from service.worksheet.view import CallView

MAX_ADDRESS_COUNT = 3


def _scores(view: CallView, rules_by_side: dict[str, list]) -> tuple[dict[str, float], dict[str, list[int]]]:
    """Sum each label's weights, each (pattern) counted once per call; evidence = segments that matched."""
    scores: dict[str, float] = {}
    evidence: dict[str, list[int]] = {}
    sides = {"caller": view.caller(), "counselor": view.counselor()}
    for side, rules in rules_by_side.items():
        for label, weight, pattern in rules:
            hits = [s.segment_id for s in sides[side] if rx(pattern).search(s.text)]
            if hits:
                # the caller says it of themself once; a counselor's form of address recurs, so it counts per use
                times = 1 if side == "caller" else min(len(hits), MAX_ADDRESS_COUNT)
                scores[label] = scores.get(label, 0.0) + float(weight) * times
                evidence.setdefault(label, []).extend(h for h in hits if h not in evidence[label])
    return scores, evidence


def draft_gender(view: CallView) -> FieldDraft:
    lex = load_lexicon().data["gender"]
    scores, evidence = _scores(view, {"caller": lex["caller"], "counselor": lex["counselor"]})
    male, female = scores.get("男", 0.0), scores.get("女", 0.0)
    best, other = ("男", female) if male >= female else ("女", male)
    top = max(male, female)
    if top >= lex["decide"]["min_score"] and top - other >= lex["decide"]["min_margin"]:
        conf = min(0.95, 0.55 + 0.1 * (top - other))
        return FieldDraft(best, round(conf, 2), sorted(evidence[best])[:5])
    ev = sorted(set(evidence.get("男", []) + evidence.get("女", [])))[:5]
    return FieldDraft("未知", 0.6 if top == 0 else 0.4, ev)


def age_group(age: int) -> str:
    if age < 12:
        return "<12"
    if age < 18:
        return "12-17"
    if age < 30:
        return "18-29"
    if age < 45:
        return "30-44"
    if age < 60:
        return "45-59"
    return "60+"


def _explicit_age(view: CallView) -> tuple[int, int] | None:
    """(age, segment id) from '我今年47了', '27岁', '都57的人了' or a bare answer to '您今年多大？'."""
    lex = load_lexicon().data["age"]
    prev_counselor = ""
    for seg in view.segments:
        if seg.speaker == "counselor":
            prev_counselor = seg.text
            continue
        candidates = [m.group(1) for p in lex["explicit"] for m in rx(p).finditer(seg.text)]
        if rx(lex["question"]).search(prev_counselor):
            m = rx(lex["answer"]).search(seg.text)
            if m:
                candidates.insert(0, m.group(1))
        for token in candidates:
            age = parse_number(token)
            if age is not None and 6 <= age <= 100:
                return age, seg.segment_id
        prev_counselor = ""
    return None


def draft_age_group(view: CallView) -> FieldDraft:
    lex = load_lexicon().data["age"]
    found = _explicit_age(view)
    if found:
        age, sid = found
        return FieldDraft(age_group(age), 0.9, [sid])
    scores: dict[str, float] = {}
    evidence: dict[str, list[int]] = {}
    for group, pattern in lex["stages"]:
        full = rx(lex["stage_prefix"] + pattern)
        for seg in view.caller():
            if full.search(seg.text):
                scores[group] = scores.get(group, 0.0) + 2.0
                evidence.setdefault(group, []).append(seg.segment_id)
                break
    sides = {"caller": view.caller(), "counselor": view.counselor()}
    for group, weight, side, pattern in lex["cues"]:
        hits = [s.segment_id for s in sides[side] if rx(pattern).search(s.text)]
        if hits:
            scores[group] = scores.get(group, 0.0) + float(weight)
            evidence.setdefault(group, []).extend(hits[:2])
    if not scores:
        return FieldDraft("未知", 0.5, [])
    group = max(scores, key=lambda g: scores[g])
    conf = 0.8 if scores[group] >= 2 else (0.55 if scores[group] >= 1 else 0.35)
    return FieldDraft(group, conf, sorted(set(evidence[group]))[:5])


_SPLIT = re.compile(r"[，。！？；、…,.!?;]+")


def _cities() -> re.Pattern[str]:
    cities = load_lexicon().data["location"]["cities"]
    return rx("(" + "|".join(sorted(cities, key=len, reverse=True)) + ")(?:市)?")


def _city_mention(text: str) -> str | None:
    """'在沈阳开个小超市' → '沈阳'; '家在天津河西区' → '天津河西区'; not when a relative is the one there."""
    lex = load_lexicon().data["location"]
    for m in _cities().finditer(text):
        before = text[: m.start()]
        if not before.endswith("在") or text[m.end(): m.end() + 2] == "老家":
            continue
        if rx(lex["other_subject"]).search(before[:-1].split("，")[-1].split("我")[-1]):
            continue
        tail = re.match(r"([\u4e00-\u9fff]{1,4}?(?:区|县))", text[m.end():])
        return m.group(1) + (tail.group(1) if tail else "")
    return None


def _address_reply(text: str, known_city: str | None) -> str | None:
    """The place clauses of a reply to '您在哪里？': '济南，历下区燕山小区，7号楼2单元301……我就是…' → '济南历下区…301'."""
    lex = load_lexicon().data["location"]
    parts: list[str] = []
    for clause in _SPLIT.split(text):
        clause = clause.strip()
        if not clause:
            continue
        if rx(lex["place_token"]).search(clause) or _cities().search(clause) or re.fullmatch(r"[0-9]+", clause):
            clause = re.sub(r"^(我)?(现在)?(就)?(在|坐在|站在)", "", clause)
            clause = rx(lex["drop"]).sub("", clause)
            parts.append(clause)
        elif parts:
            break
    if not parts:
        return None
    place = "".join(parts)
    if known_city and not _cities().search(place):
        place = known_city + place
    return place


def draft_location(view: CallView) -> FieldDraft:
    lex = load_lexicon().data["location"]
    city, city_seg = None, None
    for seg in view.caller():
        found = _city_mention(seg.text)
        if found:
            city, city_seg = found, seg.segment_id
            break
    prev_question = False
    replies: list[tuple[str, int]] = []
    for seg in view.segments:
        if seg.speaker == "counselor":
            prev_question = bool(rx(lex["question"]).search(seg.text))
            continue
        if prev_question:
            place = _address_reply(seg.text, city)
            if place and len(place) >= 2:
                replies.append((place, seg.segment_id))
        prev_question = False
    if replies:
        place, sid = max(replies, key=lambda r: len(r[0]))
        return FieldDraft(place, 0.85, [sid for _, sid in replies][:4])
    for seg in view.caller():
        m = rx(lex["self_place"]).search(seg.text)
        if m:
            place = rx(lex["drop"]).sub("", re.sub(r"^我", "", m.group(1)))
            if city and city not in place:
                place = city + place
            return FieldDraft(place, 0.6, [seg.segment_id] + ([city_seg] if city_seg is not None else []))
    if city:
        return FieldDraft(city, 0.7, [city_seg])
    return FieldDraft(None, 0.6, [])
