// The NCIJC staff console: one more client of the REST API. Every figure and every rule comes from
// the broker (`/v1/...`, called with the signed-in user's bearer token); the page only shows them.
//
// Safety rules of this file: the token lives in memory only (never in a URL, a cookie or storage);
// text reaches the page through `textContent` only (never `innerHTML`), so every string is escaped;
// no inline script or style (the Content-Security-Policy forbids them).
'use strict';

const STAFF_ROLES = ['registrar', 'legal_officer', 'judge', 'evidence_officer', 'protection_officer',
  'supervisor', 'auditor', 'admin'];
// The roles that have a work queue (`awaiting_role`).
const QUEUE_ROLES = ['registrar', 'legal_officer', 'judge', 'evidence_officer', 'supervisor'];
const STATES = ['DRAFT', 'SUBMITTED', 'RECEIVED', 'UNDER_REVIEW', 'CLARIFICATION_REQUESTED',
  'CONDITIONS_PROPOSED', 'ACCEPTED', 'IN_EXECUTION', 'POSTPONED', 'EXECUTED', 'REFUSED', 'WITHDRAWN', 'CLOSED'];
const GROUNDS = ['SOVEREIGNTY_SECURITY_PUBLIC_ORDER', 'POLITICAL_OFFENCE', 'PERSECUTION_RISK',
  'DEATH_PENALTY_RISK', 'TORTURE_RISK', 'FAIR_TRIAL_RISK', 'NE_BIS_IN_IDEM', 'NO_DUAL_CRIMINALITY',
  'MILITARY_OFFENCE', 'CONTRARY_TO_DOMESTIC_LAW', 'INSUFFICIENT_INFORMATION', 'DATA_PROTECTION', 'OTHER'];
const CONDITION_KINDS = ['DEATH_PENALTY_NON_IMPOSITION', 'NON_TORTURE', 'FAIR_TRIAL', 'SPECIALITY',
  'NO_ONWARD_TRANSFER', 'DATA_PROTECTION', 'CONFIDENTIALITY', 'OTHER'];
const DOCUMENT_KINDS = ['LETTER_OF_REQUEST', 'SUPPORTING_DOCUMENT', 'TRANSLATION', 'ASSURANCE', 'EVIDENCE',
  'CORRESPONDENCE', 'OTHER'];
// A PAPER partner's side of the workflow, which a registrar or legal officer records from its letters:
// the requesting side's actions on an INCOMING request, the requested side's on an OUTGOING one. The
// broker decides which one is legal now; this list only offers them.
const PARTNER_SIDE = {
  INCOMING: ['SUBMIT', 'PROVIDE_CLARIFICATION', 'ACCEPT_CONDITIONS', 'DECLINE_CONDITIONS', 'CLOSE', 'WITHDRAW'],
  OUTGOING: ['ACKNOWLEDGE', 'START_REVIEW', 'REQUEST_CLARIFICATION', 'PROPOSE_CONDITIONS', 'ACCEPT', 'REFUSE',
    'START_EXECUTION', 'POSTPONE', 'RESUME', 'COMPLETE_EXECUTION'],
};
const RECORDING_ROLES = ['registrar', 'legal_officer'];
// The roles that draft the NCIJC's own requests (the broker's DRAFTING_ROLES).
const DRAFTING_ROLES = ['registrar', 'legal_officer', 'judge', 'supervisor'];
const REQUEST_TYPES = ['EVIDENCE', 'SEARCH_AND_SEIZURE', 'SERVICE_OF_DOCUMENTS', 'ASSET_FREEZE', 'EXTRADITION',
  'TRANSFER_OF_PROCEEDINGS', 'TRANSFER_OF_SENTENCED_PERSON', 'SPONTANEOUS_INFORMATION', 'DIGITAL_EVIDENCE', 'OTHER'];
const PERSON_ROLES = ['SUSPECT', 'WITNESS', 'VICTIM', 'OTHER'];
const RECEIVED_VIA = ['DIPLOMATIC_NOTE', 'POST', 'EMAIL', 'COURIER', 'INTERPOL', 'OTHER'];
// What each action asks for besides the click: `reason` (required or optional), and its own fields.
const ACTION_FORMS = {
  REQUEST_CLARIFICATION: { reason: 'required' },
  PROVIDE_CLARIFICATION: { reason: 'required' },
  PROPOSE_CONDITIONS: { reason: 'optional', conditions: true },
  DECLINE_CONDITIONS: { reason: 'optional' },
  REFUSE: { reason: 'required', grounds: true },
  POSTPONE: { reason: 'required' },
  COMPLETE_EXECUTION: { reason: 'optional', outcome: true },
  WITHDRAW: { reason: 'required' },
};

// ---------------------------------------------------------------------------------------------
// Words. English and Arabic; an entry missing in Arabic falls back to English.

const WORDS = {
  en: {
    brand: 'NCIJC · mla-broker', nav_queue: 'Queue', nav_statistics: 'Statistics', sign_out: 'Sign out',
    sign_in: 'Sign in', sign_in_title: 'Sign in to the staff console',
    sign_in_oidc: 'Sign in with the identity provider',
    development: 'Development sign-in', development_note:
      'This broker runs in development mode: pick a name and a role and the broker issues a short-lived development token.',
    paste_token: 'Or paste a token (mla-broker token --sub NAME --role ROLE)', token: 'Token',
    subject: 'Name', role: 'Role', use_token: 'Use this token',
    no_sign_in: 'No sign-in is configured: set the identity provider (jwt_issuer and console_client_id) or run in development mode.',
    partners_not_here: 'The console is for NCIJC staff. Partners use the gRPC API.',
    session_expired: 'Your session has ended. Please sign in again.',
    queue_awaiting: 'Awaiting my role', queue_mine: 'Assigned to me', queue_overdue: 'Overdue', queue_all: 'All requests',
    search: 'Search', search_placeholder: 'Reference, partner reference or title', any_state: 'Any state',
    any_direction: 'Both directions', INCOMING: 'Incoming', OUTGOING: 'Outgoing', filter: 'Filter', more: 'More',
    nothing: 'Nothing here.', reference: 'Reference', title: 'Title', partner: 'Partner', state: 'State',
    due: 'Due', overdue: 'overdue', direction: 'Direction', type: 'Type', priority: 'Priority',
    confidentiality: 'Confidentiality', assignee: 'Assignee', nobody: 'nobody', received: 'Received',
    requesting_authority: 'Requesting authority', partner_reference: 'Partner reference',
    summary_of_facts: 'Summary of facts', offences: 'Offences', measures: 'Measures sought', purpose: 'Purpose',
    legal_basis: 'Legal basis', persons: 'Persons', conditions: 'Conditions', actions: 'Actions',
    no_actions: 'No action of yours is open on this request now.', timeline: 'Timeline', documents: 'Documents',
    messages: 'Correspondence', reason: 'Reason', reason_optional: 'Reason (optional)',
    refusal_grounds: 'Refusal grounds', consultation_waived_reason: 'Why no consultation on conditions (only when refusing on a ground conditions could cure, without consulting)',
    outcome: 'Outcome', FULL: 'Full', PARTIAL: 'Partial', condition_text: 'Wording (required for Other)',
    confirm: 'Confirm', cancel: 'Cancel', live: 'Live', updated_live: 'This request was just changed: the page shows the new version.',
    changed_meanwhile: 'This request has just been changed by someone else.',
    stale: 'Someone changed this request after you opened it, so your action was not applied. The page now shows the current version: check it and act again if it still applies.',
    refused_by_rule: 'The broker refused the action', done: 'Done', download: 'Download', release: 'Release to the requesting side',
    upload: 'Upload', file: 'File', kind: 'Kind', audience: 'Audience', SHARED: 'Shared with the partner',
    INTERNAL: 'Internal to the NCIJC', send: 'Send', message: 'Message', no_messages: 'No correspondence yet.',
    no_documents: 'No documents yet.', withheld: 'withheld', released: 'released', actor: 'By',
    period_start: 'From', period_end: 'Until', show: 'Show', print: 'Print', csv: 'CSV',
    requests: 'Requests', overdue_now: 'Overdue now', by_state: 'By state', by_partner: 'By partner',
    by_ground: 'Refusals by ground', by_condition: 'Conditions by kind', response_times: 'Days to respond', distribution: 'Requests by days taken',
    median: 'median', p90: '90th percentile', to_acknowledgement: 'To acknowledgement', to_decision: 'To decision',
    to_execution: 'To execution', requested: 'requested', accepted: 'accepted', declined: 'declined',
    statistics_title: 'Statistics', loading: 'Loading…', error: 'Error', days: 'days', back: 'Back to the queue',
    as_of: 'As of', on_paper: 'Record the partner’s act from its letter', on_behalf: 'On behalf of',
    nav_report: 'Human-rights report', report_title: 'Human-rights safeguards report',
    report_note: 'Requests submitted in the period: the assurances sought, given or declined; refusals on human-rights grounds and the consultation held before them; evidence released and the restrictions on its use.',
    assurances: 'Assurances', refusals: 'Refusals on human-rights grounds', releases: 'Evidence released',
    status: 'Status', given: 'Answered', consultation: 'Consultation before refusal', waived: 'Waived',
    no_consultation: 'none held', use_restrictions: 'Use restrictions', document: 'Document', release_time: 'Released', json: 'JSON',
    PROPOSED: 'Sought', 
    received_via: 'Received via', effective_time: 'Date on the letter (empty: now)', letter_reference: 'Letter reference',
    nav_new: 'New request', new_title: 'New request', new_kind: 'Whose request', new_outgoing: 'A request of the NCIJC to a partner (saved as a draft)',
    new_paper: 'A request received on paper from a partner (registered as submitted)', one_per_line: 'one per line',
    urgency_reason: 'Why it is urgent', person: 'Person', name: 'Name', nationality: 'Nationality',
    protected: 'Protected', add_person: 'Add a person', remove: 'Remove', create: 'Create the request',
    created: 'Created', no_paper_partners: 'No partner writes on paper.',
  },
  ar: {
    brand: 'المركز الوطني للتعاون القضائي الدولي', nav_queue: 'قائمة العمل', nav_statistics: 'الإحصاءات',
    sign_out: 'تسجيل الخروج', sign_in: 'تسجيل الدخول', sign_in_title: 'تسجيل الدخول إلى وحدة الموظفين',
    sign_in_oidc: 'الدخول عبر مزوّد الهوية', development: 'دخول التطوير',
    development_note: 'يعمل الوسيط في وضع التطوير: اختر اسماً ودوراً ليصدر الوسيط رمزاً مؤقتاً.',
    paste_token: 'أو الصق رمزاً', token: 'الرمز', subject: 'الاسم', role: 'الدور', use_token: 'استخدم هذا الرمز',
    partners_not_here: 'هذه الوحدة لموظفي المركز. يستخدم الشركاء واجهة gRPC.',
    session_expired: 'انتهت الجلسة. يرجى تسجيل الدخول مجدداً.',
    queue_awaiting: 'بانتظار دوري', queue_mine: 'المسندة إليّ', queue_overdue: 'المتأخرة', queue_all: 'كل الطلبات',
    search: 'بحث', search_placeholder: 'المرجع أو مرجع الشريك أو العنوان', any_state: 'كل الحالات',
    any_direction: 'كلا الاتجاهين', INCOMING: 'وارد', OUTGOING: 'صادر', filter: 'تصفية', more: 'المزيد',
    nothing: 'لا شيء هنا.', reference: 'المرجع', title: 'العنوان', partner: 'الشريك', state: 'الحالة',
    due: 'الموعد', overdue: 'متأخر', direction: 'الاتجاه', type: 'النوع', priority: 'الأولوية',
    confidentiality: 'السرية', assignee: 'المسؤول', nobody: 'لا أحد', received: 'تاريخ الاستلام',
    requesting_authority: 'الجهة الطالبة', partner_reference: 'مرجع الشريك', summary_of_facts: 'ملخص الوقائع',
    offences: 'الجرائم', measures: 'الإجراءات المطلوبة', purpose: 'الغرض', legal_basis: 'الأساس القانوني',
    persons: 'الأشخاص', conditions: 'الشروط', actions: 'الإجراءات',
    no_actions: 'لا يوجد إجراء متاح لك على هذا الطلب الآن.', timeline: 'السجل الزمني', documents: 'المستندات',
    messages: 'المراسلات', reason: 'السبب', reason_optional: 'السبب (اختياري)', refusal_grounds: 'أسباب الرفض',
    consultation_waived_reason: 'سبب عدم التشاور بشأن الشروط', outcome: 'النتيجة', FULL: 'كاملة', PARTIAL: 'جزئية',
    condition_text: 'النص (مطلوب لـ«أخرى»)', confirm: 'تأكيد', cancel: 'إلغاء', live: 'مباشر',
    updated_live: 'تغيّر هذا الطلب للتو: تعرض الصفحة النسخة الجديدة.',
    changed_meanwhile: 'غيّر شخص آخر هذا الطلب للتو.',
    stale: 'غيّر شخص آخر هذا الطلب بعد أن فتحته، فلم يُطبَّق إجراؤك. تعرض الصفحة الآن النسخة الحالية: راجعها وأعد الإجراء إن كان لا يزال مناسباً.',
    refused_by_rule: 'رفض الوسيط الإجراء', done: 'تم', download: 'تنزيل', release: 'الإفراج للجهة الطالبة',
    upload: 'رفع', file: 'الملف', kind: 'النوع', audience: 'الاطلاع', SHARED: 'مشترك مع الشريك',
    INTERNAL: 'داخلي للمركز', send: 'إرسال', message: 'رسالة', no_messages: 'لا مراسلات بعد.',
    no_documents: 'لا مستندات بعد.', withheld: 'محجوب', released: 'مُفرج عنه', actor: 'بواسطة',
    period_start: 'من', period_end: 'إلى', show: 'عرض', print: 'طباعة', csv: 'CSV', requests: 'الطلبات',
    overdue_now: 'المتأخرة الآن', by_state: 'حسب الحالة', by_partner: 'حسب الشريك', by_ground: 'الرفض حسب السبب',
    by_condition: 'الشروط حسب النوع', response_times: 'أيام الاستجابة', distribution: 'الطلبات حسب الأيام المستغرقة', median: 'الوسيط', p90: 'المئين التسعون',
    to_acknowledgement: 'حتى الإقرار بالاستلام', to_decision: 'حتى القرار', to_execution: 'حتى التنفيذ',
    requested: 'مطلوبة', accepted: 'مقبولة', declined: 'مرفوضة', statistics_title: 'الإحصاءات',
    loading: 'جارٍ التحميل…', error: 'خطأ', days: 'يوم', back: 'العودة إلى قائمة العمل', as_of: 'حتى', on_paper: 'تسجيل إجراء الشريك من رسالته', on_behalf: 'نيابةً عن',
    nav_report: 'تقرير حقوق الإنسان', report_title: 'تقرير ضمانات حقوق الإنسان',
    report_note: 'الطلبات المقدمة خلال الفترة: الضمانات المطلوبة أو المقدمة أو المرفوضة، وحالات الرفض لأسباب تتعلق بحقوق الإنسان والتشاور الذي سبقها، والأدلة المُفرج عنها وقيود استخدامها.',
    assurances: 'الضمانات', refusals: 'الرفض لأسباب تتعلق بحقوق الإنسان', releases: 'الأدلة المُفرج عنها',
    status: 'الحالة', given: 'تاريخ الرد', consultation: 'التشاور قبل الرفض', waived: 'أُعفي منه',
    no_consultation: 'لم يُجرَ', use_restrictions: 'قيود الاستخدام', document: 'المستند', release_time: 'تاريخ الإفراج', json: 'JSON',
    PROPOSED: 'مطلوبة', PERSECUTION_RISK: 'خطر الاضطهاد',
    EVIDENCE: 'جمع الأدلة', SEARCH_AND_SEIZURE: 'التفتيش والضبط', SERVICE_OF_DOCUMENTS: 'تبليغ الوثائق',
    ASSET_FREEZE: 'تجميد الأصول', EXTRADITION: 'تسليم المطلوبين', TRANSFER_OF_PROCEEDINGS: 'نقل الإجراءات',
    TRANSFER_OF_SENTENCED_PERSON: 'نقل المحكوم عليهم', SPONTANEOUS_INFORMATION: 'معلومات تلقائية',
    DIGITAL_EVIDENCE: 'الأدلة الرقمية', NORMAL: 'عادية', URGENT: 'عاجلة', STANDARD: 'عادية',
    STRICTLY_CONFIDENTIAL: 'سري للغاية', SUSPECT: 'مشتبه به', WITNESS: 'شاهد', VICTIM: 'ضحية',
    LETTER_OF_REQUEST: 'كتاب الطلب', SUPPORTING_DOCUMENT: 'مستند داعم', TRANSLATION: 'ترجمة', ASSURANCE: 'ضمانة',
    CORRESPONDENCE: 'مراسلة', SOVEREIGNTY_SECURITY_PUBLIC_ORDER: 'السيادة أو الأمن أو النظام العام',
    POLITICAL_OFFENCE: 'جريمة سياسية', NE_BIS_IN_IDEM: 'عدم جواز المحاكمة مرتين',
    NO_DUAL_CRIMINALITY: 'انتفاء ازدواجية التجريم', MILITARY_OFFENCE: 'جريمة عسكرية',
    CONTRARY_TO_DOMESTIC_LAW: 'مخالفة القانون الوطني', INSUFFICIENT_INFORMATION: 'معلومات غير كافية',
    received_via: 'ورد عبر', effective_time: 'تاريخ الرسالة (فارغ: الآن)', letter_reference: 'مرجع الرسالة',
    DIPLOMATIC_NOTE: 'مذكرة دبلوماسية', POST: 'البريد', EMAIL: 'البريد الإلكتروني', COURIER: 'ساعٍ', INTERPOL: 'الإنتربول',
    DRAFT: 'مسودة', SUBMITTED: 'مُقدَّم', RECEIVED: 'مُستلَم', UNDER_REVIEW: 'قيد المراجعة',
    CLARIFICATION_REQUESTED: 'طُلب توضيح', CONDITIONS_PROPOSED: 'شروط مقترحة', ACCEPTED: 'مقبول',
    IN_EXECUTION: 'قيد التنفيذ', POSTPONED: 'مؤجل', EXECUTED: 'مُنفَّذ', REFUSED: 'مرفوض', WITHDRAWN: 'مسحوب',
    nav_new: 'طلب جديد', new_title: 'طلب جديد', new_kind: 'مصدر الطلب', new_outgoing: 'طلب من المركز إلى شريك (يُحفظ مسودة)',
    new_paper: 'طلب ورد من شريك على الورق (يُسجَّل مُقدَّماً)', one_per_line: 'واحد في كل سطر',
    urgency_reason: 'سبب الاستعجال', person: 'شخص', name: 'الاسم', nationality: 'الجنسية', protected: 'محمي',
    add_person: 'إضافة شخص', remove: 'حذف', create: 'إنشاء الطلب', created: 'أُنشئ',
    no_paper_partners: 'لا يوجد شريك يراسل ورقياً.',
    CLOSED: 'مغلق', SUBMIT: 'تقديم', ACKNOWLEDGE: 'إقرار بالاستلام', START_REVIEW: 'بدء المراجعة',
    REQUEST_CLARIFICATION: 'طلب توضيح', PROVIDE_CLARIFICATION: 'تقديم توضيح', PROPOSE_CONDITIONS: 'اقتراح شروط',
    ACCEPT_CONDITIONS: 'قبول الشروط', DECLINE_CONDITIONS: 'رفض الشروط', ACCEPT: 'قبول', REFUSE: 'رفض',
    START_EXECUTION: 'بدء التنفيذ', POSTPONE: 'تأجيل', RESUME: 'استئناف', COMPLETE_EXECUTION: 'إتمام التنفيذ',
    CLOSE: 'إغلاق', WITHDRAW: 'سحب', registrar: 'مسجّل', legal_officer: 'موظف قانوني', judge: 'قاضٍ',
    evidence_officer: 'موظف الأدلة', protection_officer: 'موظف حماية الشهود', supervisor: 'مشرف', auditor: 'مدقق',
    admin: 'مسؤول النظام', DEATH_PENALTY_RISK: 'خطر عقوبة الإعدام', TORTURE_RISK: 'خطر التعذيب',
    FAIR_TRIAL_RISK: 'خطر المحاكمة غير العادلة', DATA_PROTECTION: 'حماية البيانات', OTHER: 'أخرى',
    DEATH_PENALTY_NON_IMPOSITION: 'عدم فرض عقوبة الإعدام', NON_TORTURE: 'عدم التعذيب', FAIR_TRIAL: 'المحاكمة العادلة',
    SPECIALITY: 'مبدأ التخصيص', CONFIDENTIALITY: 'السرية', CONFIDENTIAL: 'سري', NO_ONWARD_TRANSFER: 'عدم النقل إلى طرف ثالث',
  },
};

// Enum values read as words: `UNDER_REVIEW` becomes "Under review" unless a translation exists.
function t(key) {
  const words = WORDS[state.lang] || WORDS.en;
  if (key in words) return words[key];
  if (key in WORDS.en) return WORDS.en[key];
  const plain = String(key).toLowerCase().replaceAll('_', ' ');
  return plain.charAt(0).toUpperCase() + plain.slice(1);
}

// ---------------------------------------------------------------------------------------------
// State of the page. The token is here and nowhere else.

const state = {
  token: null,
  claims: null,
  lang: localStorage.getItem('mla.lang') === 'ar' ? 'ar' : 'en',
  config: { oidc: null, development: false },
  view: null, // an AbortController for what the current view keeps running (the live feed)
};

// ---------------------------------------------------------------------------------------------
// Building the page: elements from data, text always as text.

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'value') el.value = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  return add(el, children);
}

// Replaces an element's children with `children`, taken as `add` takes them.
function put(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// Appends children as `h` takes them: nested lists flattened, null and false skipped, text as text.
function add(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// User content in any script (Arabic, Kurdish, French ...): its direction follows its own text.
const text = (tag, value, props) => h(tag, { dir: 'auto', ...props }, value);

// A choice among vocabulary values (roles, kinds, states ...), each shown in the page's language; a
// filter's choice starts with `any` (the empty value) and shows the value `selected`.
const choice = (props, values, { any, selected } = {}) => h('select', props,
  any ? h('option', { value: '' }, any) : null,
  values.map((v) => h('option', { value: v, selected: v === selected }, t(v))));

function show(...nodes) {
  put(document.getElementById('main'), nodes);
}

function notify(message, kind) {
  const notice = document.getElementById('notice');
  put(notice, message ? h('p', { class: `notice ${kind || 'info'}` }, message) : '');
}

function when(value) {
  if (!value) return '—';
  return new Intl.DateTimeFormat(state.lang === 'ar' ? 'ar-IQ' : 'en-GB',
    { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value));
}

const number = (n) => new Intl.NumberFormat(state.lang === 'ar' ? 'ar-IQ' : 'en-GB',
  { maximumFractionDigits: 1 }).format(n);

// ---------------------------------------------------------------------------------------------
// The REST API.

class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, options = {}) {
  const headers = { authorization: `Bearer ${state.token}`, accept: 'application/json', ...options.headers };
  const init = { method, headers, signal: options.signal };
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    init.body = options.body;
  }
  if (options.etag) headers['if-match'] = `"${options.etag}"`;
  // A retried click must not act twice: one key per intended change.
  if (method === 'POST') headers['idempotency-key'] = crypto.randomUUID();
  const response = await fetch(path, init);
  if (response.status === 401) {
    signOut(t('session_expired'));
    throw new Problem(401, {});
  }
  if (!response.ok) {
    let body = {};
    try { body = await response.json(); } catch { /* not a problem document */ }
    throw new Problem(response.status, body);
  }
  if (options.raw) return response;
  return response.status === 204 ? null : response.json();
}

// What a refusal says, in the broker's words, with the rule's reason code.
function problemBox(problem) {
  if (!(problem instanceof Problem)) return h('div', { class: 'problem', role: 'alert' }, String(problem));
  const body = problem.body;
  const violations = (body.violations || body.errors || []).map((v) =>
    h('li', {}, [v.field || v.pointer || '', ' ', v.description || v.detail || ''].join('')));
  return h('div', { class: 'problem', role: 'alert', 'data-reason': body.reason || '' },
    h('strong', {}, body.title || `${t('error')} ${problem.status}`),
    body.detail ? text('p', body.detail) : null,
    body.reason ? h('p', { class: 'reason' }, h('code', {}, body.reason)) : null,
    violations.length ? h('ul', {}, violations) : null);
}

// ---------------------------------------------------------------------------------------------
// Signing in: OpenID Connect (authorization code with PKCE) or, in development mode, a development
// token. The token is kept in memory: a reload signs in again (silently, with the provider's session).

function decodeClaims(token) {
  try {
    const payload = token.split('.')[1].replaceAll('-', '+').replaceAll('_', '/');
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

function staffRoles(claims) {
  return (claims && Array.isArray(claims.roles) ? claims.roles : []).filter((r) => STAFF_ROLES.includes(r));
}

function signIn(token) {
  const claims = decodeClaims(token);
  if (!claims) return notify(t('error'), 'error');
  if (claims.partner || staffRoles(claims).length === 0) return notify(t('partners_not_here'), 'error');
  state.token = token;
  state.claims = claims;
  notify('');
  route();
}

function signOut(message) {
  state.token = null;
  state.claims = null;
  if (state.view) state.view.abort();
  notify(message || '', message ? 'error' : 'info');
  route();
}

const base64url = (bytes) => btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_')
  .replace(/=+$/, '');
const randomText = () => base64url(crypto.getRandomValues(new Uint8Array(32)));
const redirectUri = () => `${location.origin}/console/`;

async function providerMetadata() {
  const issuer = state.config.oidc.issuer.replace(/\/$/, '');
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the identity provider answered ${response.status}`);
  return response.json();
}

async function startOidc() {
  const metadata = await providerMetadata();
  const verifier = randomText();
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const challenge = base64url(new Uint8Array(digest));
  const expected = randomText();
  // The verifier outlives the page through the redirect; it is useless without the code.
  sessionStorage.setItem('mla.pkce', JSON.stringify({ verifier, state: expected, hash: location.hash }));
  const query = new URLSearchParams({
    response_type: 'code', client_id: state.config.oidc.client_id, redirect_uri: redirectUri(),
    scope: 'openid', state: expected, code_challenge: challenge, code_challenge_method: 'S256',
  });
  location.assign(`${metadata.authorization_endpoint}?${query}`);
}

// Back from the provider with `?code=...&state=...`: the code is taken out of the address at once.
async function finishOidc() {
  const query = new URLSearchParams(location.search);
  if (!query.has('code') && !query.has('error')) return;
  const saved = JSON.parse(sessionStorage.getItem('mla.pkce') || 'null');
  sessionStorage.removeItem('mla.pkce');
  history.replaceState(null, '', `/console/${saved ? saved.hash : ''}`);
  if (query.has('error') || !saved || saved.state !== query.get('state')) {
    notify(`${t('error')}: ${query.get('error_description') || query.get('error') || 'state mismatch'}`, 'error');
    return;
  }
  const metadata = await providerMetadata();
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code: query.get('code'), redirect_uri: redirectUri(),
      client_id: state.config.oidc.client_id, code_verifier: saved.verifier,
    }),
  });
  const tokens = await response.json();
  if (!response.ok || !tokens.access_token) {
    notify(`${t('error')}: ${tokens.error_description || tokens.error || response.status}`, 'error');
    return;
  }
  signIn(tokens.access_token);
}

function signInView() {
  const parts = [h('h1', {}, t('sign_in_title'))];
  if (state.config.oidc) {
    parts.push(h('p', {}, h('button', { type: 'button', class: 'primary', id: 'sign-in-oidc',
      onclick: () => startOidc().catch((e) => notify(`${t('error')}: ${e.message}`, 'error')) },
    t('sign_in_oidc'))));
  }
  if (state.config.development) {
    const subject = h('input', { id: 'dev-subject', required: true, autocomplete: 'username', maxlength: 128 });
    const role = choice({ id: 'dev-role' }, STAFF_ROLES);
    const development = h('form', { class: 'card', id: 'dev-sign-in', onsubmit: async (event) => {
      event.preventDefault();
      const response = await fetch('/console/session', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: subject.value, role: role.value }),
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) return notify(answer.detail || `${t('error')} ${response.status}`, 'error');
      signIn(answer.token);
    } },
    h('h2', {}, t('development')), h('p', {}, t('development_note')),
    h('label', {}, t('subject'), subject), h('label', {}, t('role'), role),
    h('button', { type: 'submit', class: 'primary' }, t('sign_in')));
    const pasted = h('textarea', { id: 'dev-token', rows: 3, autocomplete: 'off', spellcheck: 'false' });
    const paste = h('form', { class: 'card', onsubmit: (event) => {
      event.preventDefault();
      signIn(pasted.value.trim());
    } }, h('label', {}, t('paste_token'), pasted), h('button', { type: 'submit' }, t('use_token')));
    parts.push(development, paste);
  }
  if (!state.config.oidc && !state.config.development) parts.push(h('p', {}, t('no_sign_in')));
  show(h('section', { class: 'sign-in' }, parts));
}

// ---------------------------------------------------------------------------------------------
// The queue: what awaits the caller's role, what is assigned to them, what is overdue; overdue first.

function queueView(params) {
  const roles = staffRoles(state.claims);
  const queueRole = roles.find((r) => QUEUE_ROLES.includes(r));
  const tabs = [
    queueRole && ['awaiting', t('queue_awaiting'), { awaiting_role: queueRole, order_by: 'due_time' }],
    ['mine', t('queue_mine'), { assignee: 'me', order_by: 'due_time' }],
    ['overdue', t('queue_overdue'), { overdue: 'true', order_by: 'due_time' }],
    ['all', t('queue_all'), {}],
  ].filter(Boolean);
  const current = tabs.find(([name]) => name === params.get('tab')) || tabs[0];
  const filters = { query: params.get('query') || '', state: params.get('state') || '',
    direction: params.get('direction') || '' };

  const query = h('input', { type: 'search', name: 'query', value: filters.query, dir: 'auto',
    placeholder: t('search_placeholder'), 'aria-label': t('search') });
  const stateSelect = choice({ name: 'state', 'aria-label': t('state') }, STATES,
    { any: t('any_state'), selected: filters.state });
  const directionSelect = choice({ name: 'direction', 'aria-label': t('direction') }, ['INCOMING', 'OUTGOING'],
    { any: t('any_direction'), selected: filters.direction });
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams({ tab: current[0], query: query.value, state: stateSelect.value,
      direction: directionSelect.value });
    location.hash = `#/?${next}`;
  } }, query, stateSelect, directionSelect, h('button', { type: 'submit' }, t('filter')));

  const nav = h('nav', { class: 'tabs', 'aria-label': t('nav_queue') }, tabs.map(([name, label]) =>
    h('a', { href: `#/?${new URLSearchParams({ ...filters, tab: name })}`,
      'aria-current': name === current[0] ? 'page' : null }, label)));
  const body = h('tbody');
  const table = h('table', { class: 'queue' },
    h('thead', {}, h('tr', {}, [t('reference'), t('title'), t('partner'), t('state'), t('due')]
      .map((label) => h('th', { scope: 'col' }, label)))), body);
  const more = h('button', { type: 'button', hidden: true }, t('more'));
  const status = h('p', { role: 'status' }, t('loading'));
  show(h('h1', {}, t('nav_queue')), nav, form, status, table, more);

  const load = async (pageToken) => {
    const search = new URLSearchParams({ ...current[2], page_size: '50' });
    for (const [key, value] of Object.entries(filters)) if (value) search.set(key, value);
    if (pageToken) search.set('page_token', pageToken);
    try {
      const page = await api('GET', `/v1/requests?${search}`);
      for (const request of page.requests) {
        body.append(h('tr', { class: request.overdue ? 'overdue' : null },
          h('td', {}, h('a', { href: `#/requests/${encodeURIComponent(request.id)}` }, request.reference || request.id)),
          text('td', request.title),
          h('td', {}, request.partner_code),
          h('td', {}, h('span', { class: 'state' }, t(request.state))),
          h('td', {}, when(request.due_time), request.overdue ? h('span', { class: 'badge' }, t('overdue')) : null)));
      }
      status.textContent = body.children.length ? '' : t('nothing');
      more.hidden = !page.next_page_token;
      more.onclick = () => load(page.next_page_token);
    } catch (problem) {
      put(status, problemBox(problem));
    }
  };
  load();
}

// ---------------------------------------------------------------------------------------------
// A new request: the NCIJC's own, drafted for a partner, or one a paper partner sent, registered from
// its letter (INCOMING and SUBMITTED at once). The broker checks every field; the page only gathers
// them and shows the refusal's reasons beside the form.

// Every active partner, all pages of them.
async function allPartners() {
  const partners = [];
  let pageToken = '';
  do {
    const page = await api('GET', `/v1/partners?${new URLSearchParams({ page_size: '100', page_token: pageToken })}`);
    partners.push(...page.partners);
    pageToken = page.next_page_token;
  } while (pageToken);
  return partners;
}

const lines = (textarea) => textarea.value.split('\n').map((l) => l.trim()).filter(Boolean);

function personRow() {
  const row = h('fieldset', { class: 'person' },
    h('legend', {}, t('person')),
    h('label', {}, t('name'), h('input', { name: 'person_name', dir: 'auto', required: true, maxlength: 200 })),
    h('label', {}, t('role'), choice({ name: 'person_role' }, PERSON_ROLES)),
    h('label', {}, t('nationality'), h('input', { name: 'person_nationality', maxlength: 2, size: 3, placeholder: 'IQ' })),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'person_protected' }), t('protected')),
    h('button', { type: 'button', onclick: () => row.remove() }, t('remove')));
  return row;
}

function newRequestView() {
  const mayRecord = staffRoles(state.claims).some((role) => RECORDING_ROLES.includes(role));
  const status = h('div');
  show(h('h1', {}, t('new_title')), status);
  allPartners().then((partners) => {
    const kind = h('fieldset', { class: 'kind' }, h('legend', {}, t('new_kind')),
      h('label', { class: 'check' }, h('input', { type: 'radio', name: 'kind', value: 'OUTGOING', checked: true }), t('new_outgoing')),
      mayRecord ? h('label', { class: 'check' }, h('input', { type: 'radio', name: 'kind', value: 'PAPER' }), t('new_paper')) : null);
    const partner = h('select', { name: 'partner_code', required: true });
    const paperOnly = () => kind.querySelector('input[value=PAPER]:checked') !== null;
    const input = (name, props) => h('input', { name, dir: 'auto', maxlength: 200, ...props });
    const area = (name, props) => h('textarea', { name, dir: 'auto', rows: 3, ...props });
    const f = {
      request_type: choice({ name: 'request_type' }, REQUEST_TYPES),
      priority: choice({ name: 'priority' }, ['NORMAL', 'URGENT']),
      urgency_reason: area('urgency_reason', { rows: 2 }),
      requesting_authority: input('requesting_authority'),
      partner_reference: input('partner_reference'),
      title: input('title', { required: true }),
      summary_of_facts: area('summary_of_facts', { rows: 5 }),
      offences: area('offences'),
      measures: area('measures'),
      purpose: area('purpose', { rows: 2 }),
      legal_basis: input('legal_basis'),
      confidentiality: choice({ name: 'confidentiality' }, ['STANDARD', 'CONFIDENTIAL', 'STRICTLY_CONFIDENTIAL']),
    };
    const via = choice({ name: 'received_via' }, RECEIVED_VIA);
    const effective = h('input', { type: 'datetime-local', name: 'effective_time' });
    const letter = input('letter_reference');
    const paper = h('fieldset', { class: 'paper', hidden: true }, h('legend', {}, t('new_paper')),
      h('label', {}, t('received_via'), via), h('label', {}, t('effective_time'), effective),
      h('label', {}, t('letter_reference'), letter));
    const persons = h('div', { class: 'persons' });
    const outcome = h('div');
    // The partners a request of this kind can name: any active partner, or those that write on paper.
    const offerPartners = () => {
      const offered = partners.filter((p) => !paperOnly() || p.channel === 'PAPER');
      put(partner, offered.map((p) => h('option', { value: p.code }, `${p.code} · ${p.name}`)));
      paper.hidden = !paperOnly();
      put(outcome, offered.length ? null : h('p', { class: 'notice error' }, t('no_paper_partners')));
    };
    kind.addEventListener('change', offerPartners);
    offerPartners();

    const submit = h('button', { type: 'submit', class: 'primary' }, t('create'));
    const form = h('form', { class: 'card new-request', onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        partner_code: partner.value, request_type: f.request_type.value, priority: f.priority.value,
        urgency_reason: f.urgency_reason.value, requesting_authority: f.requesting_authority.value,
        partner_reference: f.partner_reference.value, title: f.title.value,
        summary_of_facts: f.summary_of_facts.value, offences: lines(f.offences), measures: lines(f.measures),
        purpose: f.purpose.value, legal_basis: f.legal_basis.value, confidentiality: f.confidentiality.value,
        persons: [...persons.querySelectorAll('fieldset.person')].map((row) => ({
          name: row.querySelector('[name=person_name]').value,
          role: row.querySelector('[name=person_role]').value,
          nationality: row.querySelector('[name=person_nationality]').value.toUpperCase(),
          protected: row.querySelector('[name=person_protected]').checked,
        })),
      };
      if (paperOnly()) {
        body.on_behalf_of_partner = partner.value;
        body.received_via = via.value;
        body.letter_reference = letter.value;
        if (effective.value) body.effective_time = new Date(effective.value).toISOString();
      }
      submit.disabled = true;
      try {
        const created = await api('POST', '/v1/requests', { json: body });
        // After the page's own hashchange handler, which clears the notices.
        window.addEventListener('hashchange', () => notify(`${t('created')}: ${created.reference}`, 'ok'), { once: true });
        location.hash = `#/requests/${encodeURIComponent(created.id)}`;
      } catch (problem) {
        submit.disabled = false;
        put(outcome, h('p', {}, t('refused_by_rule')), problemBox(problem));
      }
    } },
    kind,
    h('label', {}, t('partner'), partner),
    paper,
    h('label', {}, t('type'), f.request_type),
    h('label', {}, t('priority'), f.priority),
    h('label', {}, t('urgency_reason'), f.urgency_reason),
    h('label', {}, t('requesting_authority'), f.requesting_authority),
    h('label', {}, t('partner_reference'), f.partner_reference),
    h('label', {}, t('title'), f.title),
    h('label', {}, t('summary_of_facts'), f.summary_of_facts),
    h('label', {}, `${t('offences')} (${t('one_per_line')})`, f.offences),
    h('label', {}, `${t('measures')} (${t('one_per_line')})`, f.measures),
    h('label', {}, t('purpose'), f.purpose),
    h('label', {}, t('legal_basis'), f.legal_basis),
    h('label', {}, t('confidentiality'), f.confidentiality),
    h('fieldset', {}, h('legend', {}, t('persons')), persons,
      h('button', { type: 'button', class: 'add-person', onclick: () => {
        const row = personRow();
        persons.append(row);
        row.querySelector('input').focus();
      } }, t('add_person'))),
    outcome,
    h('div', { class: 'buttons' }, submit));
    put(status, form);
    f.title.focus();
  }).catch((problem) => put(status, problemBox(problem)));
}

// ---------------------------------------------------------------------------------------------
// A request's page: its content, its actions, its timeline, documents and correspondence, kept
// current by the live feed.

async function requestView(id, signal) {
  show(h('p', { role: 'status' }, t('loading')));
  const page = { id, request: null, lastCursor: 0 };
  const header = h('div');
  const actions = h('section', { 'aria-labelledby': 'actions-title' });
  const content = h('section');
  const timeline = h('section', { 'aria-labelledby': 'timeline-title' });
  const documents = h('section', { 'aria-labelledby': 'documents-title' });
  const messages = h('section', { 'aria-labelledby': 'messages-title' });
  const live = h('span', { class: 'live', id: 'live', hidden: true }, t('live'));

  const refresh = async () => {
    const [request, events] = await Promise.all([
      api('GET', `/v1/requests/${encodeURIComponent(id)}`, { signal }),
      api('GET', `/v1/requests/${encodeURIComponent(id)}/events?page_size=500`, { signal }),
    ]);
    if (page.paper === undefined) {
      // Whether staff record this partner's acts from its letters (its channel is PAPER).
      page.paper = await api('GET', `/v1/partners/${encodeURIComponent(request.partner_code)}`, { signal })
        .then((partner) => partner.channel === 'PAPER', () => false);
    }
    request.paper = page.paper;
    page.request = request;
    for (const event of events.events) page.lastCursor = Math.max(page.lastCursor, event.cursor || 0);
    renderHeader(header, request, live);
    renderContent(content, request);
    renderActions(actions, request, refresh);
    renderTimeline(timeline, events.events);
    renderDocuments(documents, request, refresh);
    renderMessages(messages, request);
  };
  try {
    await refresh();
  } catch (problem) {
    if (signal.aborted) return;
    return show(h('p', {}, h('a', { href: '#/' }, t('back'))), problemBox(problem));
  }
  show(h('p', {}, h('a', { href: '#/' }, t('back'))), header, actions, content, timeline, documents, messages);
  follow(page, signal, async () => {
    await refresh();
    notify(t('updated_live'), 'info');
  }, live);
}

function field(label, value) {
  if (value == null || value === '' || (Array.isArray(value) && value.length === 0)) return null;
  const shown = Array.isArray(value) ? h('ul', {}, value.map((v) => text('li', v))) : text('div', value);
  return [h('dt', {}, label), h('dd', {}, shown)];
}

function renderHeader(into, r, live) {
  put(into,
    h('h1', {}, h('span', { class: 'reference' }, r.reference), ' ', text('span', r.title), ' ', live),
    h('p', { class: 'summary' },
      h('span', { class: 'state', id: 'request-state', 'data-state': r.state }, t(r.state)), ' · ',
      t(r.direction), ' · ', r.partner_code, ' · ', t(r.request_type || ''),
      r.due_time ? [' · ', t('due'), ' ', when(r.due_time)] : null,
      r.overdue ? h('span', { class: 'badge' }, t('overdue')) : null));
}

function renderContent(into, r) {
  const persons = (r.persons || []).map((p) => [p.name, p.role ? ` (${t(p.role)})` : ''].join(''));
  const conditions = (r.conditions || []).map((c) =>
    `${t(c.kind)}${c.text ? `: ${c.text}` : ''} — ${t(c.status || '')}`);
  put(into, h('dl', { class: 'fields' },
    field(t('requesting_authority'), r.requesting_authority),
    field(t('partner_reference'), r.partner_reference),
    field(t('priority'), r.priority && t(r.priority)),
    field(t('confidentiality'), r.confidentiality && t(r.confidentiality)),
    field(t('assignee'), r.assignee || t('nobody')),
    field(t('received'), r.received_time && when(r.received_time)),
    field(t('summary_of_facts'), r.summary_of_facts),
    field(t('offences'), r.offences),
    field(t('measures'), r.measures),
    field(t('purpose'), r.purpose),
    field(t('legal_basis'), r.legal_basis),
    field(t('persons'), persons),
    field(t('conditions'), conditions)));
}

function renderActions(into, r, refresh) {
  // An action form being filled in stays as it is, with the version its user saw: sent, it is
  // refused as stale (412) and explained, rather than silently applied to a version nobody read.
  const open = into.querySelector('form.action-form');
  if (open) {
    if (!into.querySelector('.changed')) {
      open.before(h('p', { class: 'notice error changed', role: 'alert' }, t('changed_meanwhile')));
    }
    return;
  }
  const outcome = h('div', { class: 'outcome' });
  const buttons = r.allowed_actions.map((action) => h('button', {
    type: 'button', class: 'action', 'data-action': action,
    onclick: () => openAction(form, r, action, refresh, outcome),
  }, t(action)));
  const form = h('div');
  const paper = r.paper && staffRoles(state.claims).some((role) => RECORDING_ROLES.includes(role))
    ? h('div', { class: 'paper' }, h('h3', {}, `${t('on_paper')} (${r.partner_code})`),
      h('div', { class: 'buttons' }, PARTNER_SIDE[r.direction].map((action) => h('button', {
        type: 'button', class: 'action', 'data-on-behalf': action,
        onclick: () => openAction(form, r, action, refresh, outcome, r.partner_code),
      }, `${t('on_behalf')} ${r.partner_code}: ${t(action)}`))))
    : null;
  put(into, h('h2', { id: 'actions-title' }, t('actions')),
    buttons.length ? h('div', { class: 'buttons' }, buttons) : h('p', {}, t('no_actions')), paper, form, outcome);
}

// The form an action needs; sent with the ETag of the version on screen, so that a change made by
// someone else in between is refused (412) rather than overwritten.
function openAction(into, r, action, refresh, outcome, onBehalf) {
  const needs = ACTION_FORMS[action] || {};
  const via = onBehalf ? choice({ name: 'received_via' }, RECEIVED_VIA) : null;
  const effective = onBehalf ? h('input', { type: 'datetime-local', name: 'effective_time' }) : null;
  const letter = onBehalf ? h('input', { name: 'letter_reference', dir: 'auto', maxlength: 200 }) : null;
  const reason = needs.reason ? h('textarea', { name: 'reason', rows: 3, dir: 'auto',
    required: needs.reason === 'required' }) : null;
  const grounds = needs.grounds ? GROUNDS.map((g) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'ground', value: g }), t(g))) : [];
  const waived = needs.grounds ? h('textarea', { name: 'consultation_waived_reason', rows: 2, dir: 'auto' }) : null;
  const kinds = needs.conditions ? CONDITION_KINDS.map((k) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'condition', value: k }), t(k))) : [];
  const conditionText = needs.conditions ? h('input', { name: 'condition_text', dir: 'auto' }) : null;
  const outcomeSelect = needs.outcome ? choice({ name: 'outcome' }, ['FULL', 'PARTIAL']) : null;
  const form = h('form', { class: 'card action-form', 'data-action': action, 'data-on-behalf': onBehalf, onsubmit: async (event) => {
    event.preventDefault();
    const body = { action };
    if (reason) body.reason = reason.value;
    if (needs.grounds) {
      body.refusal_grounds = grounds.map((l) => l.firstChild).filter((c) => c.checked).map((c) => c.value);
      body.consultation_waived_reason = waived.value;
    }
    if (needs.conditions) {
      body.conditions = kinds.map((l) => l.firstChild).filter((c) => c.checked)
        .map((c) => ({ kind: c.value, text: c.value === 'OTHER' ? conditionText.value : '' }));
    }
    if (outcomeSelect) body.outcome = outcomeSelect.value;
    if (onBehalf) {
      body.on_behalf_of_partner = onBehalf;
      body.received_via = via.value;
      body.letter_reference = letter.value;
      if (effective.value) body.effective_time = new Date(effective.value).toISOString();
    }
    submit.disabled = true;
    try {
      await api('POST', `/v1/requests/${encodeURIComponent(r.id)}/transitions`, { json: body, etag: r.etag });
      put(into);
      put(outcome, h('p', { class: 'notice ok', role: 'status' }, `${t(action)}: ${t('done')}`));
      await refresh();
    } catch (problem) {
      submit.disabled = false;
      if (problem instanceof Problem && problem.status === 412) {
        put(into);
        await refresh();
        notify(t('stale'), 'error');
        return;
      }
      put(outcome, h('p', {}, t('refused_by_rule')), problemBox(problem));
    }
  } });
  const submit = h('button', { type: 'submit', class: 'primary' }, `${t('confirm')}: ${t(action)}`);
  add(form,
    h('h3', {}, onBehalf ? `${t('on_behalf')} ${onBehalf}: ${t(action)}` : t(action)),
    via ? [h('label', {}, t('received_via'), via), h('label', {}, t('effective_time'), effective),
      h('label', {}, t('letter_reference'), letter)] : null,
    reason ? h('label', {}, needs.reason === 'required' ? t('reason') : t('reason_optional'), reason) : null,
    grounds.length ? h('fieldset', {}, h('legend', {}, t('refusal_grounds')), grounds) : null,
    waived ? h('label', {}, t('consultation_waived_reason'), waived) : null,
    kinds.length ? h('fieldset', {}, h('legend', {}, t('conditions')), kinds,
      h('label', {}, t('condition_text'), conditionText)) : null,
    outcomeSelect ? h('label', {}, t('outcome'), outcomeSelect) : null,
    h('div', { class: 'buttons' }, submit,
      h('button', { type: 'button', onclick: () => {
        put(into);
        refresh();
      } }, t('cancel'))));
  put(outcome);
  put(into, form);
  (form.querySelector('textarea, input, select') || submit).focus();
}

function renderTimeline(into, events) {
  put(into, h('h2', { id: 'timeline-title' }, t('timeline')),
    h('ol', { class: 'timeline', id: 'timeline' }, events.map((e) => h('li', {},
      h('time', { datetime: e.time }, when(e.time)), ' ',
      h('strong', {}, t(e.action)),
      e.from_state || e.to_state ? [' ', t(e.from_state || ''), ' → ', t(e.to_state || '')] : null,
      ' · ', t('actor'), ' ', e.actor && (e.actor.subject || e.actor.partner_code || ''),
      e.details && e.details.reason ? text('p', e.details.reason) : null))));
}

function renderDocuments(into, r, refresh) {
  const list = h('ul', { class: 'documents' });
  const status = h('div');
  put(into, h('h2', { id: 'documents-title' }, t('documents')), list, status, uploadForm(r, refresh, status));
  api('GET', `/v1/requests/${encodeURIComponent(r.id)}/documents?page_size=500`).then((answer) => {
    const documents = answer.documents || [];
    if (!documents.length) list.append(h('li', {}, t('no_documents')));
    const withheld = documents.filter((d) => d.release_state === 'WITHHELD');
    for (const d of documents) {
      list.append(h('li', {},
        text('span', d.title), ` · ${t(d.kind || '')} · `, text('span', d.file_name),
        ` · ${number(d.size_bytes / 1024)} KiB`,
        d.release_state === 'WITHHELD' ? h('span', { class: 'badge' }, t('withheld')) : null,
        d.release_state === 'RELEASED' ? h('span', { class: 'badge ok' }, t('released')) : null,
        ' ', h('button', { type: 'button', class: 'link', onclick: () => download(d) }, t('download'))));
    }
    if (withheld.length) {
      list.after(h('button', { type: 'button', onclick: async () => {
        try {
          await api('POST', `/v1/requests/${encodeURIComponent(r.id)}/documents:release`,
            { json: { document_ids: withheld.map((d) => d.id) }, etag: r.etag });
          await refresh();
        } catch (problem) {
          put(status, problemBox(problem));
        }
      } }, t('release')));
    }
  }).catch((problem) => put(status, problemBox(problem)));
}

// Downloads go through `fetch` with the token in a header, never in a link's address.
async function download(d) {
  try {
    const response = await api('GET', `/v1/documents/${encodeURIComponent(d.id)}/content`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = h('a', { href: url, download: d.file_name || 'document' });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (problem) {
    notify(problem.message, 'error');
  }
}

function uploadForm(r, refresh, status) {
  const file = h('input', { type: 'file', name: 'file', required: true });
  const title = h('input', { name: 'title', required: true, dir: 'auto', maxlength: 200 });
  const kind = choice({ name: 'kind' }, DOCUMENT_KINDS);
  const audience = choice({ name: 'audience' }, ['SHARED', 'INTERNAL']);
  return h('form', { class: 'card upload', onsubmit: async (event) => {
    event.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    const form = new FormData();
    // The broker reads the metadata first, then streams the file.
    form.append('metadata', new Blob([JSON.stringify({ kind: kind.value, title: title.value,
      file_name: chosen.name, audience: audience.value })], { type: 'application/json' }));
    form.append('file', chosen, chosen.name);
    try {
      await api('POST', `/v1/requests/${encodeURIComponent(r.id)}/documents`, { body: form });
      await refresh();
    } catch (problem) {
      put(status, problemBox(problem));
    }
  } }, h('h3', {}, t('upload')), h('label', {}, t('title'), title), h('label', {}, t('kind'), kind),
  h('label', {}, t('audience'), audience), h('label', {}, t('file'), file),
  h('button', { type: 'submit' }, t('upload')));
}

function renderMessages(into, r) {
  const list = h('ol', { class: 'messages' });
  const status = h('div');
  const bodyInput = h('textarea', { name: 'body', rows: 3, required: true, dir: 'auto' });
  const audience = choice({ name: 'audience' }, ['SHARED', 'INTERNAL']);
  const load = () => api('GET', `/v1/requests/${encodeURIComponent(r.id)}/messages?page_size=500`).then((answer) => {
    const items = answer.messages || [];
    put(list, (items.length ? items.map((m) => h('li', { class: m.audience === 'INTERNAL' ? 'internal' : null },
      h('div', { class: 'meta' }, when(m.create_time), ' · ', m.author && (m.author.subject || m.author.partner_code || ''),
        ' · ', t(m.audience || '')),
      text('p', m.body))) : [h('li', {}, t('no_messages'))]));
  }).catch((problem) => put(status, problemBox(problem)));
  const form = h('form', { class: 'card', onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api('POST', `/v1/requests/${encodeURIComponent(r.id)}/messages`,
        { json: { audience: audience.value, body: bodyInput.value } });
      bodyInput.value = '';
      await load();
    } catch (problem) {
      put(status, problemBox(problem));
    }
  } }, h('label', {}, t('message'), bodyInput), h('label', {}, t('audience'), audience),
  h('button', { type: 'submit' }, t('send')));
  put(into, h('h2', { id: 'messages-title' }, t('messages')), list, status, form);
  load();
}

// The live feed (`/v1/events`, server-sent events) read with `fetch`, so that the token travels in
// a header rather than in the address as `EventSource` would need. It resumes after the last cursor
// seen, and reconnects after a pause when the connection drops.
async function follow(page, signal, onChange, live) {
  const decoder = new TextDecoder();
  while (!signal.aborted) {
    try {
      const response = await api('GET', `/v1/events?after=${page.lastCursor}`,
        { raw: true, signal, headers: { accept: 'text/event-stream' } });
      live.hidden = false;
      const reader = response.body.getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (!data) continue;
          const event = JSON.parse(data);
          page.lastCursor = Math.max(page.lastCursor, event.cursor || 0);
          if (event.request_id === page.id) await onChange();
        }
      }
    } catch {
      if (signal.aborted || !state.token) return;
    }
    live.hidden = true;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// ---------------------------------------------------------------------------------------------
// A period's pages: the statistics and the human-rights report. Both read `from`, `until` and
// `direction` from the address, print, and download their data.

function periodPage(params, route, path, formats) {
  const year = new Date().getUTCFullYear();
  const start = params.get('from') || `${year}-01-01`;
  const end = params.get('until') || new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  const direction = params.get('direction') || '';
  const from = h('input', { type: 'date', name: 'from', value: start, required: true });
  const until = h('input', { type: 'date', name: 'until', value: end, required: true });
  const directionSelect = choice({ name: 'direction', 'aria-label': t('direction') }, ['INCOMING', 'OUTGOING'],
    { any: t('any_direction'), selected: direction });
  const query = new URLSearchParams({ period_start: `${start}T00:00:00Z`, period_end: `${end}T00:00:00Z` });
  if (direction) query.set('direction', direction);
  const save = (format) => h('button', { type: 'button', onclick: async () => {
    try {
      const response = await api('GET', `${path}?${query}&format=${format}`, { raw: true });
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: `${route}-${start}-${end}.${format}` });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (problem) {
      notify(problem.message, 'error');
    }
  } }, t(format));
  const form = h('form', { class: 'filters no-print', onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/${route}?${new URLSearchParams({ from: from.value, until: until.value, direction: directionSelect.value })}`;
  } }, h('label', {}, t('period_start'), from), h('label', {}, t('period_end'), until), directionSelect,
  h('button', { type: 'submit' }, t('show')),
  h('button', { type: 'button', onclick: () => window.print() }, t('print')), formats.map(save));
  const period = `${start} — ${end}${direction ? ` · ${t(direction)}` : ''}`;
  return { form, period, load: () => api('GET', `${path}?${query}`) };
}

// ---------------------------------------------------------------------------------------------
// Statistics: the figures of a period, drawn as bars, printable, and as CSV.

function statisticsView(params) {
  const { form, period, load } = periodPage(params, 'statistics', '/v1/statistics', ['csv']);
  const figures = h('div', { id: 'figures' }, h('p', { role: 'status' }, t('loading')));
  show(h('h1', {}, t('statistics_title')), form, figures);
  load().then((s) => {
    put(figures,
      h('p', { class: 'period' }, `${period} · ${t('as_of')} ${when(s.as_of_time)}`),
      h('div', { class: 'totals' },
        h('div', { class: 'total' }, h('span', {}, t('requests')), h('strong', { id: 'total-requests' }, number(s.requests))),
        h('div', { class: 'total' }, h('span', {}, t('overdue_now')), h('strong', {}, number(s.overdue)))),
      chart(t('by_partner'), 'by-partner', (s.by_partner || []).map((c) => [c.partner_code, c.requests])),
      chart(t('by_state'), 'by-state', (s.by_state || []).map((c) => [t(c.state), c.requests])),
      chart(t('by_ground'), 'by-ground', (s.by_refusal_ground || []).map((c) => [t(c.ground), c.requests])),
      chart(t('by_condition'), 'by-condition', (s.by_condition_kind || []).flatMap((c) => [
        [`${t(c.kind)} · ${t('requested')}`, c.requested], [`${t(c.kind)} · ${t('accepted')}`, c.accepted],
        [`${t(c.kind)} · ${t('declined')}`, c.declined]]).filter(([, n]) => n > 0)),
      chart(`${t('response_times')} (${t('days')})`, 'response-times',
        ['to_acknowledgement', 'to_decision', 'to_execution'].flatMap((stage) => {
          const d = s[stage] || {};
          return [[`${t(stage)} · ${t('median')}`, d.median_days], [`${t(stage)} · ${t('p90')}`, d.p90_days]];
        }).filter(([, n]) => n != null)),
      ['to_acknowledgement', 'to_decision', 'to_execution'].map((stage) =>
        chart(`${t('distribution')} · ${t(stage)}`, `distribution-${stage}`,
          ((s[stage] || {}).distribution || []).map((b) => [span(b), b.requests]))));
  }).catch((problem) => put(figures, problemBox(problem)));
}

// A bucket of a response-time distribution, by its span of days.
function span(bucket) {
  return bucket.until_days == null
    ? `≥ ${number(bucket.from_days)} ${t('days')}`
    : `${number(bucket.from_days)}–${number(bucket.until_days)} ${t('days')}`;
}

// A horizontal bar chart: each bar's length is its share of the largest value; the numbers are
// printed beside the bars, so that the chart reads without colour and in print.
function chart(title, id, rows) {
  const max = Math.max(0, ...rows.map(([, n]) => n));
  return h('figure', { class: 'chart', id },
    h('figcaption', {}, title),
    rows.length ? h('table', { class: 'bars' }, h('tbody', {}, rows.map(([label, n]) => {
      const bar = h('span', { class: 'bar' });
      // Set through the CSSOM, which the Content-Security-Policy allows (a `style` attribute it would not).
      bar.style.inlineSize = `${max > 0 ? (100 * n) / max : 0}%`;
      return h('tr', {}, text('th', label, { scope: 'row' }), h('td', { class: 'track' }, bar),
        h('td', { class: 'n' }, number(n)));
    }))) : h('p', {}, t('nothing')));
}

// ---------------------------------------------------------------------------------------------
// The human-rights report: a printable document of the period's safeguards, and its data.

function reportView(params) {
  const { form, period, load } = periodPage(params, 'report', '/v1/reports/human-rights', ['csv', 'json']);
  const body = h('div', { id: 'report' }, h('p', { role: 'status' }, t('loading')));
  show(h('h1', {}, t('report_title')), form, body);
  const link = (entry) => h('a', { href: `#/requests/${encodeURIComponent(entry.request_id)}` }, entry.reference);
  const table = (id, headings, rows) => h('table', { class: 'report', id },
    h('thead', {}, h('tr', {}, headings.map((label) => h('th', { scope: 'col' }, label)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headings.length }, t('nothing')))));
  load().then((report) => {
    put(body,
      h('p', { class: 'period' }, `${period} · ${t('as_of')} ${when(report.as_of_time)}`),
      h('p', {}, t('report_note')),
      h('h2', {}, t('assurances')),
      table('assurances', [t('reference'), t('partner'), t('kind'), t('status'), t('given')],
        report.assurances.map((a) => h('tr', {}, h('td', {}, link(a)), h('td', {}, a.partner_code),
          h('td', {}, t(a.kind), a.text ? text('p', a.text) : null), h('td', {}, t(a.status)),
          h('td', {}, a.given_time ? [when(a.given_time), ' · ', a.given_by] : '—')))),
      h('h2', {}, t('refusals')),
      table('refusals', [t('reference'), t('partner'), t('refusal_grounds'), t('reason'), t('consultation')],
        report.refusals.map((r) => h('tr', {}, h('td', {}, link(r), h('div', {}, when(r.refused_time))),
          h('td', {}, r.partner_code), h('td', {}, r.refusal_grounds.map(t).join(', ')), text('td', r.reason),
          h('td', {}, r.consultations.length
            ? h('ul', {}, r.consultations.map((c) => h('li', {}, `${t(c.kind)} — ${t(c.status)}`, c.text ? text('p', c.text) : null)))
            : [t('no_consultation'), r.consultation_waived_reason ? [' · ', t('waived'), ': ', text('span', r.consultation_waived_reason)] : null])))),
      h('h2', {}, t('releases')),
      table('releases', [t('reference'), t('partner'), t('document'), t('release_time'), t('use_restrictions')],
        report.releases.map((d) => h('tr', {}, h('td', {}, link(d)), h('td', {}, d.partner_code),
          text('td', d.title), h('td', {}, when(d.release_time)),
          h('td', {}, d.use_restrictions.length ? h('ul', {}, d.use_restrictions.map((u) => text('li', u))) : '—')))));
  }).catch((problem) => put(body, problemBox(problem)));
}

// ---------------------------------------------------------------------------------------------
// Routing (`#/`, `#/new`, `#/requests/ID`, `#/statistics`, `#/report`) and the page's frame.

function route() {
  if (state.view) state.view.abort();
  state.view = new AbortController();
  applyLanguage();
  const signedIn = Boolean(state.token);
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('sign-out').hidden = !signedIn;
  document.getElementById('who').textContent = signedIn
    ? `${state.claims.sub} · ${staffRoles(state.claims).map(t).join(', ')}` : '';
  document.getElementById('nav-new').hidden = !staffRoles(state.claims).some((r) => DRAFTING_ROLES.includes(r));
  if (!signedIn) return signInView();
  const [path, search] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(search || '');
  const match = /^\/requests\/([^/]+)$/.exec(path || '');
  if (match) return requestView(decodeURIComponent(match[1]), state.view.signal);
  if (path === '/new') return newRequestView();
  if (path === '/statistics') return statisticsView(params);
  if (path === '/report') return reportView(params);
  return queueView(params);
}

function applyLanguage() {
  const root = document.documentElement;
  root.lang = state.lang;
  root.dir = state.lang === 'ar' ? 'rtl' : 'ltr';
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  const language = document.getElementById('language');
  language.textContent = state.lang === 'ar' ? 'English' : 'العربية';
  language.lang = state.lang === 'ar' ? 'en' : 'ar';
}

async function start() {
  document.getElementById('language').addEventListener('click', () => {
    state.lang = state.lang === 'ar' ? 'en' : 'ar';
    localStorage.setItem('mla.lang', state.lang);
    route();
  });
  document.getElementById('sign-out').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => {
    notify('');
    route();
  });
  try {
    state.config = await (await fetch('/console/config.json')).json();
    await finishOidc();
  } catch (error) {
    notify(`${t('error')}: ${error.message}`, 'error');
  }
  if (!state.token) route();
}

start();
