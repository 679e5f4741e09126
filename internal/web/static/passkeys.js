// Groundwork: passkeys (WebAuthn). A form with data-passkey-options="URL"
// asks URL for the options of a ceremony (the server keeps its challenge
// in the session), lets the browser make or use a passkey, and posts
// itself with the browser's answer, as JSON, in its "credential" field.
// Such forms stay hidden without WebAuthn; the elements marked
// data-passkey-unsupported say so, and are hidden when it is there.
"use strict";
(function () {
  var supported = !!(window.PublicKeyCredential && navigator.credentials && window.fetch);
  document.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = supported; });
  if (!supported) { return; }

  function toBuffer(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), b = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { b[i] = bin.charCodeAt(i); }
    return b.buffer;
  }
  function toBase64url(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) { s += String.fromCharCode(b[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBuffer(c.id) }); });
  }

  // ask runs the browser's side of the ceremony of options.
  function ask(options) {
    var pk = options.publicKey;
    pk.challenge = toBuffer(pk.challenge);
    if (pk.user) { // registration
      pk.user.id = toBuffer(pk.user.id);
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return navigator.credentials.get({ publicKey: pk });
  }

  // answer is the browser's PublicKeyCredential as go-webauthn reads it.
  function answer(cred) {
    var r = cred.response;
    var out = {
      id: cred.id, rawId: toBase64url(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toBase64url(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) { out.authenticatorAttachment = cred.authenticatorAttachment; }
    if (r.attestationObject) {
      out.response.attestationObject = toBase64url(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toBase64url(r.authenticatorData);
      out.response.signature = toBase64url(r.signature);
      if (r.userHandle) { out.response.userHandle = toBase64url(r.userHandle); }
    }
    return out;
  }

  document.querySelectorAll("form[data-passkey-options]").forEach(function (form) {
    var status = form.querySelector("[data-passkey-status]");
    var button = form.querySelector("button[type=submit]");
    function say(msg) { if (status) { status.textContent = msg; } }
    form.hidden = false;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var name = form.elements.namedItem("passkey_name");
      if (name && !name.value.trim()) {
        say("Name your passkey first, e.g. after the device it is on.");
        name.focus();
        return;
      }
      button.disabled = true;
      say("Follow your browser's prompt…");
      fetch(form.dataset.passkeyOptions, {
        method: "POST", credentials: "same-origin", headers: { Accept: "application/json" }
      }).then(function (res) {
        if (res.redirected) { // the sign-in this belonged to expired: the page it was sent to says so
          window.location.href = res.url;
          return new Promise(function () {});
        }
        return res.json().then(function (body) {
          if (!res.ok) { throw new Error((body.error && body.error.message) || "The server refused to start."); }
          return body;
        });
      }).then(ask).then(function (cred) {
        form.elements.namedItem("credential").value = JSON.stringify(answer(cred));
        say("Checking…");
        form.submit();
      }).catch(function (err) {
        button.disabled = false;
        say(err && err.name === "NotAllowedError" ? "The passkey request was cancelled or timed out." :
          (err && err.message) || "The passkey request failed.");
      });
    });
  });
})();
