// What the page takes from and gives to the browser around the steps: the code, the
// authority's key and the election id in the address's fragment, the check page's address,
// and the Korean font when the device has none.

// A letter's QR code opens <platform>/#code=<code>&k=<authority key>&e=<election id>: the
// fragment never reaches a server. Read it once, then take it out of the address bar and the
// history so the code is not left on screen or in the browser's history for the next person
// at this device. `key` and `election` are null for a code typed by hand.
export function takeLinkFromAddress() {
  const fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const link = {
    code: fragment.get("code") ?? "",
    key: fragment.get("k") || null,
    election: fragment.get("e") || null,
  };
  if (window.location.hash) {
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return link;
}

// The ledger's check page for a tracking code: <the signed package's ledger URL>/check?code=…
// (review F3: never an address the platform's answer names).
export function checkLink(ledgerUrl, code) {
  if (!ledgerUrl || !code) return null;
  let url;
  try {
    url = new URL(`${String(ledgerUrl).replace(/\/+$/, "")}/check`);
  } catch {
    return null;
  }
  if (!/^https?:$/.test(url.protocol)) return null;
  url.searchParams.set("code", code);
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
