// Foyer's passkeys: the only script on Foyer's pages, because WebAuthn is
// a browser API that only script can reach. It runs the ceremony of the
// element marked data-passkey ("register", "login" or "second-factor"):
// options from the server, the browser's dialog, the result back to the
// server, and on to where the server says. Autofill (conditional
// mediation) offers passkeys in the email field where the browser can.
(() => {
  "use strict";
  const box = document.querySelector("[data-passkey]");
  if (!box) return;
  if (!window.PublicKeyCredential || !navigator.credentials) {
    box.hidden = true;
    return;
  }
  const mode = box.dataset.passkey;
  const csrf = box.dataset.csrf || "";
  const challenge = box.dataset.challenge || "";
  const base = { register: "/mfa/passkey/register", login: "/mfa/passkey/login", "second-factor": "/mfa/passkey/second-factor" }[mode];
  const query = challenge ? "?challenge=" + encodeURIComponent(challenge) : "";
  const button = document.getElementById("passkey-button");
  const error = document.getElementById("passkey-error");

  const toB64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const fromB64 = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const say = (message) => {
    error.textContent = message;
    error.hidden = !message;
  };

  async function post(url, body, json) {
    const headers = json ? { "Content-Type": "application/json", "X-CSRF-Token": csrf } : { "Content-Type": "application/x-www-form-urlencoded" };
    const r = await fetch(url, { method: "POST", credentials: "same-origin", headers, body });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || "Something went wrong. Try again.");
    return data;
  }

  function created(c) {
    const r = c.response;
    return {
      id: c.id, rawId: toB64(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
      response: { clientDataJSON: toB64(r.clientDataJSON), attestationObject: toB64(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] },
    };
  }

  function asserted(c) {
    const r = c.response;
    return {
      id: c.id, rawId: toB64(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(),
      response: {
        clientDataJSON: toB64(r.clientDataJSON), authenticatorData: toB64(r.authenticatorData),
        signature: toB64(r.signature), userHandle: r.userHandle ? toB64(r.userHandle) : null,
      },
    };
  }

  let autofill = null; // the AbortController of a pending autofill request

  async function run(conditional) {
    say("");
    const options = await post(base + "/options" + query, new URLSearchParams({ csrf_token: csrf }), false);
    const pk = options.publicKey;
    pk.challenge = fromB64(pk.challenge);
    let body;
    if (mode === "register") {
      pk.user.id = fromB64(pk.user.id);
      (pk.excludeCredentials || []).forEach((c) => { c.id = fromB64(c.id); });
      body = created(await navigator.credentials.create({ publicKey: pk }));
    } else {
      (pk.allowCredentials || []).forEach((c) => { c.id = fromB64(c.id); });
      const request = { publicKey: pk };
      if (conditional) {
        autofill = new AbortController();
        request.mediation = "conditional";
        request.signal = autofill.signal;
      }
      body = asserted(await navigator.credentials.get(request));
    }
    const done = await post(base + query, JSON.stringify(body), true);
    window.location.assign(done.redirect);
  }

  function failed(e) {
    if (e && e.name === "AbortError") return;
    say(e && e.name === "NotAllowedError" ? "The passkey was not used. Try again." : (e && e.message) || "Something went wrong. Try again.");
  }

  button.addEventListener("click", () => {
    if (autofill) autofill.abort();
    autofill = null;
    run(false).catch(failed);
  });
  if (mode === "login" && PublicKeyCredential.isConditionalMediationAvailable) {
    PublicKeyCredential.isConditionalMediationAvailable().then((ok) => { if (ok) run(true).catch(() => {}); });
  }
})();
