// The platform's JSON API (docs: the online contract, section 3). Every failure becomes an
// ApiError whose code the page explains in the voter's language; a lost connection is
// "network" so the voter is told to retry, never that anything was saved.

export class ApiError extends Error {
  constructor(code, status, message, reason) {
    super(`${code} (${status})`);
    this.code = code; // the platform's error code, e.g. "unknown_code"
    this.status = status;
    this.serverMessage = message ?? null; // {"ko", "en"} from the platform, when it sent one
    this.reason = reason ?? null;
  }
}

async function call(method, path, { body, session } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session) headers.Authorization = `Bearer ${session}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError("network", 0, null);
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const code = answer && typeof answer.error === "string" ? answer.error : "other";
    throw new ApiError(code, response.status, answer?.message, answer?.reason);
  }
  if (answer === null) throw new ApiError("other", response.status, null);
  return answer;
}

export const api = {
  election: () => call("GET", "/api/election"),
  challenge: () => call("POST", "/api/session/challenge", { body: {} }),
  session: (key, challenge, signature) =>
    call("POST", "/api/session", { body: { key, challenge, signature } }),
  cast: (session, body) => call("POST", "/api/ballots", { body, session }),
  spoil: (session, body) => call("POST", "/api/spoiled", { body, session }),
};
