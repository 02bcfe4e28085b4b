// What each step of the voting page shows, built from the page's state. Every step is a region
// named by its h1, which receives focus when the step opens (app.js); the live regions for
// progress and errors are placed just above the step's buttons, where the voter is looking.

import { ballotForm, contestsFor, reviewLines } from "./ballot_form.js";
import { h } from "./dom.js";
import { pick, t } from "./i18n.js";

export const HEADINGS = {
  loading: "loading",
  failed: "pageTitle",
  untrusted: "untrustedHeading",
  code: "codeHeading",
  ballot: "ballotHeading",
  review: "reviewHeading",
  checked: "checkedHeading",
  receipt: "receiptHeading",
};

function step(name, lang, ...children) {
  const headingId = `step-${name}`;
  return h(
    "section",
    { class: `step step-${name}`, "aria-labelledby": headingId, "data-step": name },
    h("h1", { id: headingId, tabindex: "-1" }, t(lang, HEADINGS[name])),
    ...children,
  );
}

function button(text, onclick, kind = "", attrs = {}) {
  return h("button", { type: "button", class: `button ${kind}`.trim(), onclick, ...attrs }, text);
}

// A fingerprint or tracking code in large groups; read out character by character.
export function codeDisplay(lang, labelKey, code, id, size = "") {
  // Groups of four, however the platform spelled it (the kiosk's slip and the check page's way).
  const plain = code.replace(/[-\s]/g, "");
  const parts = plain.match(/.{1,4}/g) ?? [];
  const groups = parts.map((g, i) => h("span", { class: "group" }, i < parts.length - 1 ? `${g}-` : g));
  return h(
    "div",
    { class: `fingerprint-box ${size}`.trim(), id },
    h("p", { class: "label" }, t(lang, labelKey)),
    h(
      "p",
      { class: "fingerprint", "data-code": code },
      h("span", { "aria-hidden": "true" }, groups),
      h("span", { class: "sr-only" }, [...plain].join(" ")),
    ),
  );
}

function checkPageLink(lang, url, code) {
  if (!url) return h("p", { class: "notice" }, t(lang, "noCheckPage"));
  return h(
    "p",
    {},
    h(
      "a",
      { class: "button secondary", href: url, target: "_blank", rel: "noopener noreferrer", "data-code": code },
      t(lang, "openCheckPage"),
      h("span", { class: "sr-only" }, lang === "ko" ? " (새 창)" : " (opens a new tab)"),
    ),
  );
}

export function loadingStep(lang) {
  return step("loading", lang);
}

export function failedStep(lang, regions) {
  return step("failed", lang, regions);
}

// The page could not confirm the election or the platform's answer: say so, say what to do,
// and offer nothing that goes on (review F3).
export function untrustedStep(s, regions) {
  const { lang } = s;
  const { reason, fingerprint } = s.untrusted;
  return step(
    "untrusted",
    lang,
    regions,
    h("p", { class: "notice warn", id: "untrusted-reason", "data-reason": reason }, t(lang, reason)),
    fingerprint ? codeDisplay(lang, "fingerprintLabel", fingerprint, "untrusted-fingerprint") : null,
    h("p", {}, t(lang, "untrustedWhatToDo")),
  );
}

// A code typed by hand comes without the letter's link: the letter's election check stands in
// for it, and is asked for beside the code.
function electionCheckField(lang, s, act) {
  if (s.election.confirmed) return null;
  return [
    h("label", { for: "election-check" }, t(lang, "checkLabel")),
    h("p", { class: "hint", id: "election-check-hint" }, t(lang, "checkHint")),
    h("input", {
      id: "election-check",
      name: "election-check",
      type: "text",
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: "false",
      "aria-describedby": "election-check-hint error",
      value: s.check,
      oninput: (e) => act.typedCheck(e.target.value),
    }),
  ];
}

export function codeStep(s, act, regions) {
  const { lang } = s;
  const status = s.election.status;
  const opens = s.election.package.schedule?.opens;
  const input = h("input", {
    id: "code",
    name: "code",
    type: "text",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    "aria-describedby": "code-hint error",
    value: s.code,
    oninput: (e) => act.typed(e.target.value),
  });
  const form = h(
    "form",
    { class: "code", novalidate: true, onsubmit: (e) => { e.preventDefault(); act.signIn(); } },
    h("label", { for: "code" }, t(lang, "codeLabel")),
    h("p", { class: "hint", id: "code-hint" }, t(lang, "codeHint")),
    input,
    electionCheckField(lang, s, act),
    regions,
    h("progress", { id: "derive-progress", max: "1", value: "0", hidden: true, "aria-hidden": "true" }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, t(lang, "signIn"))),
  );
  return step(
    "code",
    lang,
    status === "not_open" ? notOpenNotice(lang, opens) : null,
    status === "closed" ? h("p", { class: "notice warn" }, t(lang, "closedNotice")) : null,
    h("p", {}, t(lang, "codeIntro")),
    form,
  );
}

export function ballotStep(s, act, regions) {
  const { lang } = s;
  const pkg = s.election.package;
  const entry = s.session.entry;
  const group = pkg.groups.find((g) => g.id === entry.group);
  const everyScopeAll = contestsFor(pkg, entry).every((c) => c.scope === "all");
  return step(
    "ballot",
    lang,
    s.session.voted ? h("p", { class: "notice warn" }, t(lang, "alreadyVotedRevote")) : null,
    h("p", {}, group && !everyScopeAll ? t(lang, "ballotIntro", { group: pick(lang, group.title) }) : t(lang, "ballotIntroAll")),
    h("div", { class: "contests", onchange: act.edited }, ballotForm(lang, pkg, entry, s.choices)),
    regions,
    h("div", { class: "actions" }, button(t(lang, "reviewButton"), act.review, "primary", { id: "to-review" })),
  );
}

// What the voter chose, contest by contest: to compare with what the check page opens.
function chosenLists(s) {
  const { lang } = s;
  const pkg = s.election.package;
  const entry = s.session.entry;
  return contestsFor(pkg, entry).map((contest) => {
    const lines = reviewLines(lang, pkg, entry, contest, s.choices[contest.id]);
    return h(
      "div",
      { class: "review-contest" },
      h("h3", {}, pick(lang, contest.title)),
      h("ul", {}, lines.length ? lines.map((line) => h("li", {}, line)) : h("li", {}, t(lang, "nothingChosen"))),
    );
  });
}

// The review's fingerprint, or what is happening until the encryption gives one.
export function fingerprintBox(lang, enc) {
  if (enc?.fingerprint) return codeDisplay(lang, "fingerprintLabel", enc.fingerprint, "review-fingerprint");
  return h(
    "div",
    { class: "fingerprint-box", id: "review-fingerprint" },
    h("p", { class: "label" }, t(lang, "fingerprintLabel")),
    h("p", { class: "fingerprint pending" }, t(lang, enc?.failed ? "encryptFailed" : "preparing")),
  );
}

export function reviewStep(s, act, regions) {
  const { lang } = s;
  const pkg = s.election.package;
  const entry = s.session.entry;
  const contests = contestsFor(pkg, entry).map((contest) => {
    const lines = reviewLines(lang, pkg, entry, contest, s.choices[contest.id]);
    const title = pick(lang, contest.title);
    return h(
      "div",
      { class: "review-contest" },
      h(
        "div",
        { class: "head" },
        h("h2", {}, title),
        button(t(lang, "change"), () => act.change(contest.id), "small", { "aria-label": `${t(lang, "change")}: ${title}` }),
      ),
      h("ul", {}, lines.length ? lines.map((line) => h("li", {}, line)) : h("li", {}, t(lang, "nothingChosen"))),
    );
  });
  const fingerprint = fingerprintBox(lang, s.encryption);
  return step(
    "review",
    lang,
    contests,
    fingerprint,
    h("p", {}, t(lang, "fingerprintNote")),
    h("p", { class: "notice", id: "check-explain" }, t(lang, "checkExplain")),
    regions,
    s.needsSignIn ? h("div", { class: "actions" }, button(t(lang, "signInAgain"), act.signInAgain, "primary", { id: "sign-in-again" })) : null,
    h(
      "div",
      { class: "actions" },
      button(t(lang, "back"), act.backToBallot, "", { id: "back" }),
      button(t(lang, "checkButton"), act.check, "secondary", { id: "check", "aria-describedby": "check-explain" }),
      button(t(lang, "castButton"), act.cast, "primary", { id: "cast" }),
    ),
  );
}

export function checkedStep(s, act, regions) {
  const { lang } = s;
  const { fingerprint, tracking, url } = s.checked;
  return step(
    "checked",
    lang,
    codeDisplay(lang, "fingerprintLabel", fingerprint, "checked-fingerprint"),
    tracking ? codeDisplay(lang, "trackingLabel", tracking, "checked-tracking", "small") : null,
    h("p", {}, t(lang, "checkedExplain")),
    h("h2", {}, t(lang, "checkedChoices")),
    chosenLists(s),
    checkPageLink(lang, url, fingerprint),
    h("p", {}, t(lang, "makeAgainNote")),
    regions,
    h("div", { class: "actions" }, button(t(lang, "makeAgain"), act.makeAgain, "primary", { id: "make-again" })),
  );
}

export function receiptStep(s, act, regions) {
  const { lang } = s;
  const r = s.receipt;
  return step(
    "receipt",
    lang,
    h("p", {}, t(lang, "receiptThanks")),
    r.test ? h("p", { class: "notice warn" }, t(lang, "testReceipt")) : null,
    codeDisplay(lang, "trackingLabel", r.tracking ?? r.fingerprint, "receipt-code"),
    h("p", {}, t(lang, "receiptExplain")),
    r.tracking ? codeDisplay(lang, "fingerprintLabel", r.fingerprint, "receipt-fingerprint", "small") : null,
    r.tracking ? h("p", {}, t(lang, "receiptFingerprintNote")) : null,
    checkPageLink(lang, r.url, r.tracking ?? r.fingerprint),
    regions,
  );
}

// The opening as the package writes it, in the election's own time zone (not the device's).
function electionTime(lang, iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(iso ?? "");
  if (!m) return iso ?? "";
  const [, y, mo, d, hh, mm] = m;
  if (lang === "ko") return `${y}년 ${Number(mo)}월 ${Number(d)}일 ${hh}:${mm}`;
  const month = new Date(Date.UTC(2000, Number(mo) - 1, 1)).toLocaleString("en-GB", { month: "long", timeZone: "UTC" });
  return `${Number(d)} ${month} ${y}, ${hh}:${mm}`;
}

function notOpenNotice(lang, opens) {
  const future = opens && new Date(opens).getTime() > Date.now();
  const text = future ? t(lang, "notOpenYet", { when: electionTime(lang, opens) }) : t(lang, "notOpenNow");
  return h("p", { class: "notice warn" }, text);
}
