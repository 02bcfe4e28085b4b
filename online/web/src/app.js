// The online voting page: code, ballot, review, Check or Cast, receipt (issue 19; the online
// contract §5). The browser derives the voter's key from the code, encrypts, proves and signs
// (hanpyo-v2.js); the platform only ever sees the encrypted ballot. Plain DOM, no framework:
// the page must stay small for old phones.

import "./app.css";
import { ApiError, api } from "./api.js";
import { emptyChoices, firstProblem, contestsFor, plaintextBallot } from "./ballot_form.js";
import { h, nextPaint } from "./dom.js";
import * as v2 from "./hanpyo-v2.js";
import { hasWords, pick, t } from "./i18n.js";
import * as steps from "./steps.js";
import { answerMatches, confirmByCheck, confirmElection, ownTestEntry, sessionAgrees } from "./confirm.js";
import { checkLink, loadFont, takeLinkFromAddress } from "./page.js";

const link = takeLinkFromAddress();
const s = {
  lang: "ko",
  step: "loading",
  election: null, // GET /api/election as confirmed (confirm.js): {package, testKeys, ...}
  code: link.code,
  check: "", // the letter's election check, typed with a code typed by hand
  test: false, // the page's own reading: the member's key is on the signed test roll
  cred: null, // {seed, publicKey}: kept in memory only, to sign the ballot
  session: null, // POST /api/session's answer
  choices: null,
  encryption: null, // the ballot review shows: {plaintext, promise, ballot, nonces, fingerprint}
  checked: null,
  receipt: null,
  needsSignIn: false,
  busy: false,
  error: null, // {key, vars, server}
  status: null, // a words key
};

const main = document.getElementById("app");
const errorRegion = h("div", { class: "error", id: "error", role: "alert" });
const statusRegion = h("div", { class: "status", id: "status", role: "status", "aria-live": "polite" });

// -- showing ------------------------------------------------------------------------------

function render(focusHeading) {
  const views = {
    loading: () => steps.loadingStep(s.lang),
    failed: () => steps.failedStep(s.lang, regions()),
    untrusted: () => steps.untrustedStep(s, regions()),
    code: () => steps.codeStep(s, actions, regions()),
    ballot: () => steps.ballotStep(s, actions, regions()),
    review: () => steps.reviewStep(s, actions, regions()),
    checked: () => steps.checkedStep(s, actions, regions()),
    receipt: () => steps.receiptStep(s, actions, regions()),
  };
  main.replaceChildren(views[s.step]());
  renderFrame();
  showMessages();
  if (focusHeading) {
    window.scrollTo(0, 0);
    main.querySelector("h1").focus();
  }
}

function regions() {
  return [statusRegion, errorRegion];
}

function renderFrame() {
  document.documentElement.lang = s.lang;
  const other = s.lang === "ko" ? "en" : "ko";
  const toggle = document.getElementById("language");
  toggle.textContent = t(s.lang, "switchLanguage");
  toggle.setAttribute("lang", other);
  toggle.setAttribute("aria-label", t(s.lang, "switchLanguageLabel"));
  document.getElementById("brand").textContent = t(s.lang, "pageTitle");
  const title = s.election ? pick(s.lang, s.election.package.title) : "";
  document.getElementById("election-title").textContent = title;
  const banner = document.getElementById("test-banner");
  banner.hidden = !(s.session && s.test);
  banner.textContent = t(s.lang, "testBanner");
  document.title = [t(s.lang, steps.HEADINGS[s.step]), title, t(s.lang, "pageTitle")]
    .filter(Boolean)
    .join(" · ");
}

function showMessages() {
  statusRegion.textContent = s.status ? t(s.lang, s.status) : "";
  errorRegion.textContent = s.error ? errorText(s.error) : "";
  errorRegion.dataset.error = s.error?.key ?? ""; // which case, for the tests
}

// The platform's own message names the precise case (voted in person, first ballot counts…)
// and what to do; the page's words stand in when it sent none, and for a lapsed sign-in, which
// the page renews itself without the code.
function errorText(error) {
  const server = error.server?.[s.lang];
  if (server && error.key !== "err_session_expired") return server;
  return t(s.lang, error.key === "other" ? "err_other" : error.key, error.vars);
}

function say(statusKey) {
  s.status = statusKey;
  showMessages();
}

function fail(key, vars, server) {
  s.error = null;
  showMessages(); // an alert repeated word for word is announced again only after a change
  s.error = { key, vars, server };
  s.status = null;
  showMessages();
  errorRegion.scrollIntoView?.({ block: "nearest" });
}

function go(step) {
  s.step = step;
  s.status = null;
  s.error = null;
  render(true);
}

// Runs one of the voter's actions: one at a time, every failure shown in their language.
async function run(work) {
  if (s.busy) return;
  s.busy = true;
  main.setAttribute("aria-busy", "true");
  s.error = null;
  try {
    await work();
  } catch (e) {
    failWith(e);
  } finally {
    s.busy = false;
    main.removeAttribute("aria-busy");
  }
}

function failWith(e) {
  if (e instanceof Stopped) return;
  if (!(e instanceof ApiError)) {
    console.error(e);
    fail("err_other");
    return;
  }
  if (e.reason) console.warn("platform refused:", e.code, e.reason);
  if (e.code === "session_expired") {
    s.needsSignIn = true;
    fail("err_session_expired");
    render(false);
    document.getElementById("sign-in-again")?.focus();
    return;
  }
  const key = hasWords(`err_${e.code}`) ? `err_${e.code}` : "other";
  fail(key, {}, e.serverMessage);
}

// The code's derivation, drawn as a bar (not announced: the status line says what happens).
function showProgress(fraction) {
  const bar = document.getElementById("derive-progress");
  if (!bar) return;
  bar.hidden = fraction === null;
  if (fraction !== null) bar.value = fraction;
}

// -- the steps' actions -------------------------------------------------------------------

async function openSession() {
  const pkg = s.election.package;
  say("signingIn");
  const { challenge } = await api.challenge();
  const signature = v2.sessionSignature(s.cred.seed, pkg.id, v2.b64d(challenge, 32, "challenge"));
  const session = await api.session(v2.b64e(s.cred.publicKey), challenge, v2.b64e(signature));
  const testEntry = ownTestEntry(s.election, s.cred.publicKey);
  if (!sessionAgrees(session, testEntry)) {
    // The platform calls an official code a test one (a test ballot is encrypted under the
    // published test key) or the other way round: never encrypt on its word.
    untrusted("untrustedSession");
    throw new Stopped();
  }
  s.test = Boolean(testEntry);
  s.session = session;
  s.needsSignIn = false;
}

// Thrown after the page has already shown why it stops: nothing more to say.
class Stopped extends Error {}

// The page cannot vouch for what the platform answered: the member is told not to vote here
// and whom to tell, the code and the key are forgotten, and no button leads on.
function untrusted(reasonKey, fingerprint = null) {
  s.cred = null;
  s.code = "";
  s.session = null;
  s.encryption = null;
  s.untrusted = { reason: reasonKey, fingerprint };
  s.step = "untrusted";
  s.status = null;
  s.error = { key: "untrustedElection", vars: {} };
  render(true);
}

const actions = {
  typed(text) {
    s.code = text;
  },

  typedCheck(text) {
    s.check = text;
  },

  signIn: () =>
    run(async () => {
      const pkg = s.election.package;
      if (!s.code.trim()) return fail("codeEmpty");
      let code;
      try {
        code = v2.normalizeCode(s.code);
      } catch (e) {
        fail("codeMalformed", {}, e.userMessage);
        document.getElementById("code")?.focus();
        return;
      }
      if (!s.election.confirmed) {
        // A code typed by hand came without the letter's link: the letter's election check
        // vouches for the authority key the platform named, or nothing goes on.
        const result = confirmByCheck(s.election, s.check);
        if (result !== "match") {
          fail(result === "malformed" ? "checkMalformed" : "checkMismatch");
          document.getElementById("election-check")?.focus();
          return;
        }
        s.election.confirmed = true;
      }
      say("deriving");
      await nextPaint();
      // Argon2id takes seconds on a phone: the async form yields so the page stays alive.
      s.cred = await v2.deriveCredentialAsync(code, pkg.id, showProgress);
      showProgress(null);
      try {
        await openSession();
      } catch (e) {
        s.cred = null;
        showProgress(null);
        throw e;
      }
      s.code = ""; // the code leaves the screen and memory; the derived key stays to sign
      if (contestsFor(pkg, s.session.entry).length === 0) return fail("nothingToVote");
      s.choices = emptyChoices(pkg, s.session.entry);
      go("ballot");
    }),

  refuse(message) {
    s.error = null;
    errorRegion.textContent = "";
    errorRegion.textContent = message;
    errorRegion.dataset.error = "refused";
  },

  edited() {
    // a choice changed: the last complaint about the ballot no longer stands
    if (!errorRegion.textContent) return;
    s.error = null;
    showMessages();
  },

  review() {
    const problem = firstProblem(s.lang, s.election.package, s.session.entry, s.choices);
    if (problem) {
      s.error = null;
      actions.refuse(problem.message);
      main.querySelector(`#contest-${CSS.escape(problem.contest.id)}`)?.closest("fieldset")
        ?.querySelector("input")?.focus();
      return;
    }
    startEncryption(); // before the review shows, so it never shows an older ballot's fingerprint
    go("review");
  },

  change(contestId) {
    go("ballot");
    const heading = main.querySelector(`#contest-${CSS.escape(contestId)}`);
    heading?.scrollIntoView({ block: "start" });
    heading?.focus();
  },

  backToBallot() {
    go("ballot");
  },

  check: () =>
    run(async () => {
      const enc = await readyEncryption();
      say("checking");
      const body = v2.spoiledBody(enc.ballot, enc.nonces, enc.plaintext);
      // Once its randomness is sent it is never cast, even when the answer is lost on the way
      // (the platform may have published it): the review gets a fresh encryption instead.
      s.encryption = null;
      let answer;
      try {
        answer = await api.spoil(s.session.session, body);
      } catch (e) {
        startEncryption();
        showFingerprint();
        throw e;
      }
      if (!answerMatches(answer, enc, { cast: false })) return untrusted("untrustedAnswer", enc.fingerprint);
      const tracking = typeof answer.tracking_code === "string" ? answer.tracking_code : null;
      s.checked = {
        fingerprint: enc.fingerprint,
        tracking,
        url: checkLink(ledgerUrl(), tracking),
      };
      go("checked");
    }),

  makeAgain() {
    go("ballot");
  },

  cast: () =>
    run(async () => {
      const enc = await readyEncryption();
      say("casting");
      const pkg = s.election.package;
      const body = v2.castBody(s.cred.seed, pkg.id, s.session.voter, enc.ballot);
      const answer = await api.cast(s.session.session, body);
      // Only the page's own fingerprint is ever shown: an answer naming another ballot is not
      // a receipt for this one.
      if (!answerMatches(answer, enc, { cast: true })) return untrusted("untrustedAnswer", enc.fingerprint);
      const tracking = typeof answer.tracking_code === "string" ? answer.tracking_code : null;
      s.receipt = {
        fingerprint: enc.fingerprint,
        tracking,
        url: checkLink(ledgerUrl(), tracking),
        test: s.test,
      };
      s.encryption = null;
      s.cred = null; // nothing left to sign; voting again starts from the code
      go("receipt");
    }),

  signInAgain: () =>
    run(async () => {
      await openSession();
      s.status = null;
      s.error = null;
      render(false);
      document.getElementById("cast")?.focus();
    }),
};

// The review's ballot, encrypted in the background as soon as the review shows (the voter
// reads meanwhile). A new one is made whenever the choices changed or the last was checked.
function startEncryption() {
  const pkg = s.election.package;
  const plaintext = plaintextBallot(pkg, s.session.entry, s.choices);
  const same = s.encryption && JSON.stringify(s.encryption.plaintext) === JSON.stringify(plaintext);
  if (same && !s.encryption.failed) return showFingerprint();
  const enc = { plaintext, ballot: null, nonces: null, fingerprint: null, failed: false };
  s.encryption = enc;
  enc.promise = (async () => {
    await nextPaint();
    const made = await v2.encryptBallot(pkg, s.session.entry, plaintext, { test: s.test });
    enc.ballot = made.ballot;
    enc.nonces = made.nonces;
    enc.fingerprint = v2.fingerprint(made.ballot);
    return enc;
  })();
  enc.promise.then(() => s.encryption === enc && showFingerprint(), (e) => {
    console.error(e);
    enc.failed = true;
    if (s.encryption === enc && s.step === "review") fail("encryptFailed");
  });
}

function showFingerprint() {
  const box = document.getElementById("review-fingerprint");
  if (s.step === "review" && box) box.replaceWith(steps.fingerprintBox(s.lang, s.encryption));
}

async function readyEncryption() {
  const enc = s.encryption;
  if (!enc || enc.failed) {
    startEncryption();
    return readyEncryption();
  }
  if (!enc.fingerprint) say("preparing");
  return enc.promise;
}

// -- starting -----------------------------------------------------------------------------

document.getElementById("language").addEventListener("click", () => {
  s.lang = s.lang === "ko" ? "en" : "ko";
  render(false); // the same step, the same choices; focus stays on the switch
});

// The ledger's address from the signed public part: the check links' origin.
function ledgerUrl() {
  return s.election.package.ledger?.url ?? null;
}

async function start() {
  loadFont();
  render(false);
  let answer;
  try {
    answer = await api.election();
  } catch (e) {
    console.error(e);
    s.step = "failed";
    render(true);
    fail("loadFailed");
    return;
  }
  try {
    s.election = confirmElection(answer, link);
  } catch (e) {
    console.error("the election could not be confirmed:", e);
    untrusted("untrustedPackage");
    return;
  }
  go("code");
}

start();
