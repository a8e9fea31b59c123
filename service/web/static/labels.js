// Chinese names for the codes of the protocol and the annotation format.

export const RISK_LABELS = {
  passive_ideation: '被动自杀意图',
  active_ideation: '主动自杀意图',
  suicide_plan: '自杀计划',
  suicide_preparation: '自杀准备行为',
  suicide_attempt: '自杀未遂',
  self_harm_ideation: '自伤意图',
  self_harm_behavior: '自伤行为',
  aggression_to_others: '用户攻击行为',
  victimization: '他人攻击行为',
  suicide_exploration: '关于自杀的探索',
};

export const LEVELS = ['无', '低', '中', '高', '紧急'];
export const LEVEL_CLASS = { 无: 'lv0', 低: 'lv1', 中: 'lv2', 高: 'lv3', 紧急: 'lv4' };

export const STATUS = {
  streaming: '通话中', processing: '处理中', ended: '已结束', interrupted: '已中断', failed: '失败',
};
export const LIVE_STATUS = new Set(['streaming', 'processing']);

export const SPEAKERS = { caller: '来电者', counselor: '咨询员', mixed: '混合声道' };

export const ROLES = { counselor: '咨询员', supervisor: '督导', admin: '管理员' };

export const HISTORY_KINDS = { draft: '起草', redraft: '重新起草', correction: '更正', finalize: '定稿' };

// Worksheet fields: Chinese name, a hint, and the section they belong to (in display order).
export const FIELDS = {
  caller_gender: { name: '来电者性别' },
  caller_age_group: { name: '年龄段' },
  call_type: { name: '来电类型' },
  problem_categories: { name: '问题类别' },
  emotions: { name: '情绪状态' },
  risk_level: { name: '风险等级', hint: '紧急：正在实施；高：72 小时内计划或两周内未遂；中：主动意念等' },
  suicidal_ideation: { name: '自杀意念' },
  suicide_plan: { name: '自杀计划', hint: '已确定方式、地点或时间' },
  suicide_method: { name: '自杀方式', hint: '按来电者原话' },
  prior_attempt: { name: '自杀未遂史' },
  self_harm: { name: '自伤', hint: '当前的自伤意图或行为' },
  ideation_intensity: { name: '自杀意念强度', hint: '0–10，空白表示未提及' },
  hopelessness: { name: '绝望感', hint: '0–10，空白表示未提及' },
  protective_factors: { name: '保护因素', hint: '每行一项，如：家人支持' },
  location_disclosed: { name: '所在位置', hint: '越具体越好：地址 > 地标 > 区 > 城市' },
  police_linkage: { name: '警方联动', hint: '已经或需要联系 110/120' },
  referral: { name: '转介' },
  follow_up: { name: '需要回访' },
  summary: { name: '通话摘要', hint: '2–4 句：谁来电、主要问题、风险、处置' },
};

export const SECTIONS = [
  ['来电者与问题', ['caller_gender', 'caller_age_group', 'call_type', 'problem_categories', 'emotions']],
  ['风险评估', ['risk_level', 'suicidal_ideation', 'suicide_plan', 'suicide_method', 'prior_attempt', 'self_harm',
               'ideation_intensity', 'hopelessness', 'protective_factors']],
  ['处置', ['location_disclosed', 'police_linkage', 'referral', 'follow_up']],
  ['摘要', ['summary']],
];

export function levelRank(level) {
  const i = LEVELS.indexOf(level);
  return i < 0 ? -1 : i;
}

export function labelName(code) {
  return RISK_LABELS[code] || code;
}
