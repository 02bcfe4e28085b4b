// What the page takes from and gives to the browser around the steps: the code in the address's
// fragment, the check page's address, and the Korean font when the device has none.

// A letter's QR code opens <platform>/#code=<code>: the fragment never reaches a server. Read
// it once, then take it out of the address bar and the history so the code is not left on
// screen or in the browser's history for the next person at this device.
export function takeCodeFromAddress() {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const code = fragment.get("code") ?? "";
  if (window.location.hash) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return code;
}

// The check page for a ballot the platform recorded: its answer's check_url, with the code
// added when the platform gave the page's base address only.
export function checkLink(answer, code) {
  const base = answer.check_url;
  if (!base) return null;
  const url = new URL(base, window.location.href);
  if (!/^https?:$/.test(url.protocol)) return null;
  if (!url.searchParams.has("code")) url.searchParams.set("code", answer.tracking_code ?? code);
  return url.href;
}

// The ledger's pages do the same (ledger/publish/report_fonts.py served_fonts_css): a Korean
// system font when the device has one, else the shipped NanumGothic from the platform, fetched
// by the browser only when a character needs it.
export function loadFont() {
  if (typeof FontFace !== "function" || !document.fonts) return;
  for (const [weight, local, file] of [
    ["400", "NanumGothic", "NanumGothic.ttf"],
    ["700", "NanumGothic Bold", "NanumGothicBold.ttf"],
  ]) {
    const face = new FontFace("Hanpyo Sans", `local("${local}"), url("/assets/fonts/${file}")`, {
      weight,
    });
    document.fonts.add(face);
  }
}
