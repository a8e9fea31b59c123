"""The sentences synthesized to learn how the ASR model hears the lexicon's key words (``service.risk.heard``).

Written for this purpose: each key word in six carrier sentences of its kind, a caller's words on a hotline. None is
taken from the annotated calls (those stay the evaluation). ``python -m service.risk.heard.sentences`` prints them as
``id<TAB>word<TAB>text``.
"""

from __future__ import annotations

#: key words by kind: what the carriers of that kind can hold
WORDS: dict[str, tuple[str, ...]] = {
    # things a method needs
    "thing": ("安眠药", "农药", "老鼠药", "液化气", "煤气", "木炭", "绳子", "皮带", "围巾", "胶带", "刀片", "敌敌畏",
              "百草枯", "遗书", "一整瓶药", "一氧化碳"),
    # places a caller may be at
    "place": ("楼顶", "天台", "阳台", "栏杆外面", "桥上", "江边", "河边", "窗台"),
    # what a caller may do
    "act": ("上吊", "跳楼", "烧炭", "割腕", "自杀", "轻生", "吞药", "卧轨", "服毒", "跳河", "喝农药", "自残", "割手腕",
            "寻死", "了断自己", "结束自己的生命", "开煤气", "吞安眠药",
            # added 2026-11-25 (session 8): more of the lexicon's terms for an act
            "寻短见", "跳江", "跳海", "跳下去", "割脉", "去死", "自伤", "吊死"),
    # what a caller may say of themselves
    "state": ("不想活了", "活不下去了", "撑不下去了", "想死", "一了百了", "活着没意思", "不想醒来", "想解脱",
              "离开这个世界", "死了算了", "熬不下去了",
              # added 2026-11-25 (session 8)
              "活着太累", "活够了", "不如死了", "没了该多好", "想消失", "活着就是浪费", "早点死", "撑不住了",
              "不想再活", "想走了算了", "去另一个世界", "结束这一切", "想伤害自己", "想让自己疼"),
    # what a caller has already done (added 2026-11-25, session 8): an attempt is told in these words
    "past": ("做了傻事", "做过傻事", "自杀过", "试过自杀", "没死成", "吞下去了", "吃下去了", "自杀未遂", "伤害过自己"),
}

CARRIERS: dict[str, tuple[str, ...]] = {
    "thing": ("我把{}准备好了。", "{}就放在我旁边。", "我前几天买了{}。", "家里还有{}。", "我手里拿着{}。",
              "我想用{}。"),
    "place": ("我现在就在{}。", "我站在{}那里。", "我一个人去了{}。", "我刚刚爬到{}。", "{}的风很大。",
              "我在{}待了很久。"),
    "act": ("我想{}。", "我打算今天晚上{}。", "我以前试过{}。", "我真的很想{}。", "我脑子里一直想着{}。",
            "我已经决定{}了。"),
    "state": ("我觉得{}。", "说实话，{}。", "最近总是想，{}。", "有时候我就想{}。", "我跟你说，{}。",
              "我是真的{}。"),
    "past": ("其实我{}。", "我前些天{}。", "上个月我{}。", "那天晚上我{}。", "我跟你说，我{}。", "我以前{}。"),
}


def sentences() -> list[tuple[str, str, str]]:
    """(id, word, text) for every key word in every carrier of its kind, in a fixed order."""
    out = []
    for kind, words in WORDS.items():
        for w_i, word in enumerate(words):
            for c_i, carrier in enumerate(CARRIERS[kind]):
                out.append((f"{kind}-{w_i:02d}-{c_i}", word, carrier.format(word)))
    return out


if __name__ == "__main__":
    for sid, word, text in sentences():
        print(f"{sid}\t{word}\t{text}")
