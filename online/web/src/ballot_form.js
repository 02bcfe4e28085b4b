// The voter's contests as real form controls (checkboxes, radio groups) and the plaintext
// ballot they make. Which contests and options a voter sees follows the layout rule of
// docs/spec/ballot.md §2: contests whose categories hold the voter's category, options of the
// voter's group (scope "group") or all (scope "all"), less the entry's excluded options (their
// own proposal). The plaintext is kiosk.core.ballot.Ballot.to_json(), which a checked ballot
// carries (spec §6).

import { h, uid } from "./dom.js";
import { pick, t } from "./i18n.js";

export const ANSWERS = ["yes", "no", "blank"];

export function contestsFor(pkg, entry) {
  return pkg.contests.filter((c) => c.categories.includes(entry.category));
}

export function eligibleOptions(pkg, contest, entry) {
  const excluded = new Set(entry.excluded ?? []);
  return pkg.options.filter(
    (o) => (contest.scope === "all" || o.group === entry.group) && !excluded.has(o.id),
  );
}

// Empty choices: choice -> Set of option ids; score -> Map option -> score or Map
// criterion -> score; yesno -> null until answered.
export function emptyChoices(pkg, entry) {
  const choices = {};
  for (const c of contestsFor(pkg, entry)) {
    choices[c.id] = c.kind === "choice" ? new Set() : c.kind === "score" ? new Map() : null;
  }
  return choices;
}

function isRadioChoice(contest) {
  return contest.min === 1 && contest.max === 1;
}

function ruleText(lang, contest, count) {
  if (contest.min === contest.max) return t(lang, "chooseExactly", { n: contest.max });
  if (contest.min === 0) return t(lang, "chooseUpTo", { max: Math.min(contest.max, count) });
  return t(lang, "chooseBetween", { min: contest.min, max: Math.min(contest.max, count) });
}

function optionLabel(lang, option) {
  return [
    h("span", { class: "option-title" }, pick(lang, option.title)),
    option.summary ? h("span", { class: "option-summary" }, pick(lang, option.summary)) : null,
    option.budget != null
      ? h("span", { class: "option-budget" }, t(lang, "budget", {
          amount: option.budget.toLocaleString(lang === "ko" ? "ko-KR" : "en-US"),
        }))
      : null,
  ];
}

function contestFrame(lang, contest, intro, body) {
  const headingId = `contest-${contest.id}`;
  return h(
    "fieldset",
    { class: "contest", "aria-describedby": intro.id },
    h("legend", {}, h("h2", { id: headingId, tabindex: "-1" }, pick(lang, contest.title))),
    intro,
    body,
  );
}

// A refusal shown (and announced) right under the option the voter just tried to choose,
// where they are looking, however long the list.
function refusal(message) {
  return h("p", { class: "error refusal", role: "alert" }, message);
}

function choiceContest(lang, contest, options, chosen) {
  const count = h("span", { class: "count" });
  const showCount = () => {
    count.textContent = t(lang, "chosenCount", {
      n: chosen.size,
      total: Math.min(contest.max, options.length),
    });
  };
  showCount();
  const intro = h("p", { class: "rule", id: uid("rule") }, ruleText(lang, contest, options.length), " ", count);
  const radio = isRadioChoice(contest);
  const name = uid(`c-${contest.id}`);
  const list = h("div", { class: "options" });
  for (const option of options) {
    const id = uid("opt");
    const input = h("input", {
      type: radio ? "radio" : "checkbox",
      id,
      name,
      value: option.id,
      checked: chosen.has(option.id),
    });
    input.addEventListener("change", () => {
      if (radio) chosen.clear();
      list.querySelectorAll(".refusal").forEach((note) => note.remove());
      if (input.checked && !radio && chosen.size >= contest.max) {
        input.checked = false; // the contest's maximum: the voter removes one first
        row.after(refusal(t(lang, "tooMany", { max: contest.max })));
      } else if (input.checked) chosen.add(option.id);
      else chosen.delete(option.id);
      showCount();
    });
    const row = h("div", { class: "option" }, input, h("label", { for: id }, optionLabel(lang, option)));
    list.append(row);
  }
  if (options.length === 0) list.append(h("p", {}, t(lang, "nothingEligible")));
  return contestFrame(lang, contest, intro, list);
}

function scoreScale(lang, contest, name, current, onPick, labelledBy) {
  const scale = h("div", { class: "scale", role: "radiogroup", "aria-labelledby": labelledBy });
  // null is "not scored": a contest's scores may start at 0, which is a score like any other.
  const values = [null];
  for (let v = contest.min; v <= contest.max; v += 1) values.push(v);
  for (const value of values) {
    const id = uid("score");
    const input = h("input", {
      type: "radio",
      id,
      name,
      value: value === null ? "none" : String(value),
      checked: (current ?? null) === value,
    });
    input.addEventListener("change", () => onPick(value));
    const text = value === null ? t(lang, "notScored") : String(value);
    scale.append(h("span", { class: value === null ? "score none" : "score" }, input, h("label", { for: id }, text)));
  }
  return scale;
}

function scoreContest(lang, contest, options, scores) {
  const intro = h("p", { class: "rule", id: uid("rule") }, t(lang, "scoreIntro", { min: contest.min, max: contest.max }));
  const list = h("div", { class: "options" });
  for (const option of options) {
    const titleId = uid("opt-title");
    const block = h("div", { class: "option scored" }, h("h3", { id: titleId }, optionLabel(lang, option)));
    if (!contest.criteria?.length) {
      const set = (v) => (v === null ? scores.delete(option.id) : scores.set(option.id, v));
      block.append(scoreScale(lang, contest, uid("s"), scores.get(option.id), set, titleId));
    } else {
      const byCriterion = scores.get(option.id) ?? new Map();
      for (const criterion of contest.criteria) {
        const critId = uid("crit");
        const set = (v) => {
          if (v === null) byCriterion.delete(criterion.id);
          else byCriterion.set(criterion.id, v);
          if (byCriterion.size) scores.set(option.id, byCriterion);
          else scores.delete(option.id);
        };
        block.append(
          h("p", { class: "criterion", id: critId }, pick(lang, criterion.title)),
          scoreScale(lang, contest, uid("s"), byCriterion.get(criterion.id), set, `${titleId} ${critId}`),
        );
      }
    }
    list.append(block);
  }
  return contestFrame(lang, contest, intro, list);
}

function yesnoContest(lang, contest, current, onPick) {
  const intro = h("p", { class: "rule", id: uid("rule") }, t(lang, "chooseOne"));
  const name = uid(`yn-${contest.id}`);
  const list = h("div", { class: "options answers" });
  for (const answer of ANSWERS) {
    const id = uid("ans");
    const input = h("input", { type: "radio", id, name, value: answer, checked: current === answer });
    input.addEventListener("change", () => onPick(answer));
    list.append(h("div", { class: "option" }, input, h("label", { for: id }, h("span", { class: "option-title" }, t(lang, answer)))));
  }
  return contestFrame(lang, contest, intro, list);
}

// The form for every contest of the voter.
export function ballotForm(lang, pkg, entry, choices) {
  return contestsFor(pkg, entry).map((contest) => {
    const options = eligibleOptions(pkg, contest, entry);
    if (contest.kind === "choice") return choiceContest(lang, contest, options, choices[contest.id]);
    if (contest.kind === "score") return scoreContest(lang, contest, options, choices[contest.id]);
    return yesnoContest(lang, contest, choices[contest.id], (a) => {
      choices[contest.id] = a;
    });
  });
}

// The first rule the choices break, as {contest, message}, or null when the ballot is complete.
export function firstProblem(lang, pkg, entry, choices) {
  for (const contest of contestsFor(pkg, entry)) {
    const sel = choices[contest.id];
    const title = pick(lang, contest.title);
    if (contest.kind === "choice" && sel.size < contest.min) {
      return { contest, message: t(lang, "tooFew", { contest: title, min: contest.min }) };
    }
    if (contest.kind === "yesno" && !ANSWERS.includes(sel)) {
      return { contest, message: t(lang, "noAnswer", { contest: title }) };
    }
    if (contest.kind === "score" && contest.criteria?.length) {
      for (const [, byCriterion] of sel) {
        if (byCriterion.size !== contest.criteria.length) {
          return { contest, message: t(lang, "scoreEveryCriterion", { contest: title }) };
        }
      }
    }
  }
  return null;
}

// kiosk.core.ballot.Ballot.to_json(): choice lists sorted, only scored options in a score map.
export function plaintextBallot(pkg, entry, choices) {
  const contests = {};
  for (const contest of contestsFor(pkg, entry)) {
    const sel = choices[contest.id];
    if (contest.kind === "choice") contests[contest.id] = [...sel].sort();
    else if (contest.kind === "score") {
      const scores = {};
      for (const [option, value] of sel) {
        scores[option] = value instanceof Map ? Object.fromEntries(value) : value;
      }
      contests[contest.id] = scores;
    } else contests[contest.id] = sel;
  }
  return { v: 1, election: pkg.id, category: entry.category, group: entry.group ?? null, contests };
}

// What the review shows of a contest: one line per chosen option, score or the answer.
export function reviewLines(lang, pkg, entry, contest, sel) {
  const title = (id) => pick(lang, pkg.options.find((o) => o.id === id)?.title) || id;
  if (contest.kind === "choice") return [...sel].map(title);
  if (contest.kind === "yesno") return [t(lang, sel)];
  return eligibleOptions(pkg, contest, entry).map((o) => {
    const value = sel.get(o.id);
    if (value === undefined) return `${title(o.id)}: ${t(lang, "notScored")}`;
    if (!(value instanceof Map)) return `${title(o.id)}: ${t(lang, "scorePoints", { n: value })}`;
    const parts = contest.criteria.map((c) => `${pick(lang, c.title)} ${value.get(c.id)}`);
    return `${title(o.id)}: ${parts.join(", ")}`;
  });
}
