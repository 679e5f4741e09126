package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// softAuthenticator is a passkey authenticator in software, for the
// handler tests of bad and replayed assertions: an ES256 key, attestation
// "none", a signature counter, and the byte layouts of WebAuthn Level 3
// (section 6.1, authenticator data; 6.5.1, attested credential data; 8.7,
// none attestation) and COSE (RFC 9053, EC2 keys). The browser test uses
// Chromium's virtual authenticator instead.
type softAuthenticator struct {
	t          *testing.T
	rpID       string
	origin     string
	key        *ecdsa.PrivateKey
	credID     []byte
	userHandle []byte
	count      uint32
}

func newSoftAuthenticator(t *testing.T, rpID, origin string) *softAuthenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softAuthenticator{t: t, rpID: rpID, origin: origin, key: key, credID: id}
}

var b64 = base64.RawURLEncoding

// cborBytes is the CBOR head and payload of a byte string.
func cborBytes(b []byte) []byte {
	switch n := len(b); {
	case n < 24:
		return append([]byte{0x40 | byte(n)}, b...)
	case n < 256:
		return append([]byte{0x58, byte(n)}, b...)
	default:
		return append([]byte{0x59, byte(n >> 8), byte(n)}, b...)
	}
}

// cborText is the CBOR of a short text string.
func cborText(s string) []byte { return append([]byte{0x60 | byte(len(s))}, s...) }

// authData is the authenticator data with flags UP and UV, the counter,
// and attested credential data when attested.
func (a *softAuthenticator) authData(attested bool) []byte {
	rp := sha256.Sum256([]byte(a.rpID))
	flags := byte(0x01 | 0x04) // UP, UV
	if attested {
		flags |= 0x40 // AT
	}
	out := append(rp[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.credID)))
		out = append(out, a.credID...)
		x, y := a.key.X.FillBytes(make([]byte, 32)), a.key.Y.FillBytes(make([]byte, 32))
		cose := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21} // kty EC2, alg ES256, crv P-256, x:
		cose = append(cose, cborBytes(x)...)
		cose = append(cose, 0x22) // y:
		cose = append(cose, cborBytes(y)...)
		out = append(out, cose...)
	}
	return out
}

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	require.NoError(a.t, err)
	return b
}

// options decodes the publicKey options the server answered.
type passkeyOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		User      *struct {
			ID string `json:"id"`
		} `json:"user"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func decodeOptions(t *testing.T, body string) passkeyOptions {
	t.Helper()
	var o passkeyOptions
	require.NoError(t, json.Unmarshal([]byte(body), &o), body)
	require.NotEmpty(t, o.PublicKey.Challenge)
	return o
}

// create answers registration options, as navigator.credentials.create
// would.
func (a *softAuthenticator) create(o passkeyOptions) string {
	require.NotNil(a.t, o.PublicKey.User)
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	require.NoError(a.t, err)
	a.userHandle = handle
	att := []byte{0xa3}
	att = append(att, cborText("fmt")...)
	att = append(att, cborText("none")...)
	att = append(att, cborText("attStmt")...)
	att = append(att, 0xa0)
	att = append(att, cborText("authData")...)
	att = append(att, cborBytes(a.authData(true))...)
	return a.marshal(map[string]any{
		"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.PublicKey.Challenge)),
		"attestationObject": b64.EncodeToString(att),
		"transports":        []string{"internal"},
	})
}

// get answers sign-in options for challenge, as navigator.credentials.get
// would: the counter goes up by one.
func (a *softAuthenticator) get(challenge string) string {
	a.count++
	data := a.authData(false)
	cd := a.clientData("webauthn.get", challenge)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, data...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	require.NoError(a.t, err)
	return a.marshal(map[string]any{
		"clientDataJSON":    b64.EncodeToString(cd),
		"authenticatorData": b64.EncodeToString(data),
		"signature":         b64.EncodeToString(sig),
		"userHandle":        b64.EncodeToString(a.userHandle),
	})
}

func (a *softAuthenticator) marshal(response map[string]any) string {
	b, err := json.Marshal(map[string]any{"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID),
		"type": "public-key", "response": response, "clientExtensionResults": map[string]any{}})
	require.NoError(a.t, err)
	return string(b)
}

// post sends a form (nil: none) to the passkey server with c, as JSON's
// client when jsonAccept, and returns status, Location and body.
func (e *passkeyEnv) post(t *testing.T, c *http.Client, path string, form url.Values, jsonAccept bool) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if jsonAccept {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// options begins a ceremony at path with c.
func (e *passkeyEnv) options(t *testing.T, c *http.Client, path string) passkeyOptions {
	t.Helper()
	status, _, body := e.post(t, c, path, nil, true)
	require.Equal(t, http.StatusOK, status, body)
	return decodeOptions(t, body)
}

// logIn signs c in with email's password and returns where it was sent.
func (e *passkeyEnv) logIn(t *testing.T, c *http.Client, email string) string {
	t.Helper()
	status, loc, body := e.post(t, c, "/login", url.Values{"email": {email}, "password": {testPassword}}, false)
	require.Equal(t, http.StatusSeeOther, status, body)
	return loc
}

// register registers a's passkey for the user signed in with c.
func (e *passkeyEnv) register(t *testing.T, c *http.Client, a *softAuthenticator, name string) {
	t.Helper()
	cred := a.create(e.options(t, c, "/account/passkeys/options"))
	status, loc, body := e.post(t, c, "/account/passkeys", url.Values{"passkey_name": {name}, "credential": {cred}}, false)
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/account", loc)
}

// TestPasskeyAssertions checks the sign-in ceremonies against bad and
// replayed answers: each refused one signs no one in.
func TestPasskeyAssertions(t *testing.T) {
	t.Parallel()
	e := newPasskeyEnv(t)
	ctx := t.Context()
	u := e.user("quinn@example.com")
	origin := e.url
	a := newSoftAuthenticator(t, "localhost", origin)

	owner := e.client()
	e.logIn(t, owner, u.Email)
	e.register(t, owner, a, "Soft key")
	pks, err := e.passkeys.List(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, pks, 1)

	// signedIn reports whether c's session is signed in.
	signedIn := func(c *http.Client) bool {
		resp, err := c.Get(e.url + "/account")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	finish := func(c *http.Client, cred string) (int, string, string) {
		return e.post(t, c, "/login/passkey", url.Values{"credential": {cred}, "next": {"/account"}}, false)
	}

	// A good sign-in, whose answer is then replayed.
	c := e.client()
	o := e.options(t, c, "/login/passkey/options")
	require.Empty(t, o.PublicKey.AllowCredentials, "a discoverable sign-in names no credentials")
	good := a.get(o.PublicKey.Challenge)
	status, loc, body := finish(c, good)
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/account", loc)
	require.True(t, signedIn(c))

	t.Run("replayed in the same session: the ceremony is used up", func(t *testing.T) {
		r := e.client()
		status, _, body := finish(r, good)
		require.Equal(t, http.StatusUnprocessableEntity, status)
		require.Contains(t, body, "expired or was already used")
		require.False(t, signedIn(r))
	})
	t.Run("replayed in a new ceremony: wrong challenge", func(t *testing.T) {
		r := e.client()
		e.options(t, r, "/login/passkey/options")
		status, _, body := finish(r, good)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Contains(t, body, "That passkey could not sign you in.")
		require.False(t, signedIn(r))
	})
	t.Run("signed for another challenge", func(t *testing.T) {
		r := e.client()
		e.options(t, r, "/login/passkey/options")
		status, _, _ := finish(r, a.get(b64.EncodeToString([]byte("a challenge the server never sent"))))
		require.Equal(t, http.StatusUnauthorized, status)
		require.False(t, signedIn(r))
	})
	t.Run("another origin", func(t *testing.T) {
		evil := *a
		evil.origin = "http://evil.example"
		r := e.client()
		o := e.options(t, r, "/login/passkey/options")
		status, _, _ := finish(r, evil.get(o.PublicKey.Challenge))
		a.count = evil.count
		require.Equal(t, http.StatusUnauthorized, status)
		require.False(t, signedIn(r))
	})
	t.Run("bad signature", func(t *testing.T) {
		r := e.client()
		o := e.options(t, r, "/login/passkey/options")
		forged := newSoftAuthenticator(t, "localhost", origin) // another key, the same credential ID
		forged.credID, forged.userHandle, forged.count = a.credID, a.userHandle, a.count+10
		status, _, _ := finish(r, forged.get(o.PublicKey.Challenge))
		require.Equal(t, http.StatusUnauthorized, status)
		require.False(t, signedIn(r))
	})
	t.Run("signature counter that did not advance: a cloned authenticator", func(t *testing.T) {
		r := e.client()
		o := e.options(t, r, "/login/passkey/options")
		clone := *a
		clone.count = 0 // get makes it 1, the stored counter is 1 already
		status, _, _ := finish(r, clone.get(o.PublicKey.Challenge))
		require.Equal(t, http.StatusUnauthorized, status)
		require.False(t, signedIn(r))
		// The original, whose counter goes on, still works.
		r = e.client()
		o = e.options(t, r, "/login/passkey/options")
		status, _, body := finish(r, a.get(o.PublicKey.Challenge))
		require.Equal(t, http.StatusSeeOther, status, body)
		require.True(t, signedIn(r))
	})
	t.Run("unknown passkey", func(t *testing.T) {
		stranger := newSoftAuthenticator(t, "localhost", origin)
		stranger.userHandle = []byte(u.ID)
		r := e.client()
		o := e.options(t, r, "/login/passkey/options")
		status, _, _ := finish(r, stranger.get(o.PublicKey.Challenge))
		require.Equal(t, http.StatusUnauthorized, status)
		require.False(t, signedIn(r))
	})
	t.Run("a registration state does not finish a sign-in", func(t *testing.T) {
		e.options(t, owner, "/account/passkeys/options")
		status, _, _ := finish(owner, a.get("x"))
		require.Equal(t, http.StatusUnprocessableEntity, status)
	})

	t.Run("second factor", func(t *testing.T) {
		secret, _, err := e.accounts.BeginTwoFactor(ctx, u.ID)
		require.NoError(t, err)
		code, err := totp.GenerateCode(secret, time.Now())
		require.NoError(t, err)
		_, err = e.accounts.EnableTwoFactor(ctx, u.ID, secret, code)
		require.NoError(t, err)

		// Another user's passkey does not give quinn's second factor.
		v := e.user("vera@example.com")
		other := newSoftAuthenticator(t, "localhost", origin)
		vc := e.client()
		e.logIn(t, vc, v.Email)
		e.register(t, vc, other, "Vera's key")

		r := e.client()
		require.Equal(t, "/login/two-factor?next=%2Forgs", e.logIn(t, r, u.Email))
		resp, err := r.Get(e.url + "/login/two-factor")
		require.NoError(t, err)
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Contains(t, string(page), `action="/login/two-factor/passkey"`)
		// A wrong code keeps the passkey on offer.
		status, _, body := e.post(t, r, "/login/two-factor", url.Values{"code": {"12345"}}, false)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Contains(t, body, `action="/login/two-factor/passkey"`)
		o := e.options(t, r, "/login/two-factor/passkey/options")
		require.Len(t, o.PublicKey.AllowCredentials, 1, "quinn's passkey only")
		require.Equal(t, b64.EncodeToString(a.credID), o.PublicKey.AllowCredentials[0].ID)
		status, _, _ = e.post(t, r, "/login/two-factor/passkey", url.Values{"credential": {other.get(o.PublicKey.Challenge)}}, false)
		require.Equal(t, http.StatusUnauthorized, status)
		require.False(t, signedIn(r))

		o = e.options(t, r, "/login/two-factor/passkey/options")
		status, loc, body := e.post(t, r, "/login/two-factor/passkey",
			url.Values{"credential": {a.get(o.PublicKey.Challenge)}, "next": {"/account"}}, false)
		require.Equal(t, http.StatusSeeOther, status, body)
		require.Equal(t, "/account", loc)
		require.True(t, signedIn(r))
	})

	t.Run("remove needs the password", func(t *testing.T) {
		id := pks[0].ID
		status, _, body := e.post(t, owner, "/account/passkeys/"+id+"/remove", url.Values{"password_passkey": {"not it"}}, false)
		require.Equal(t, http.StatusUnprocessableEntity, status)
		require.Contains(t, body, "The password is not correct.")
		left, err := e.passkeys.List(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, left, 1)
		status, _, _ = e.post(t, owner, "/account/passkeys/"+id+"/rename", url.Values{"name": {"Renamed key"}}, false)
		require.Equal(t, http.StatusSeeOther, status)
		status, _, _ = e.post(t, owner, "/account/passkeys/"+id+"/remove", url.Values{"password_passkey": {testPassword}}, false)
		require.Equal(t, http.StatusSeeOther, status)
		left, err = e.passkeys.List(ctx, u.ID)
		require.NoError(t, err)
		require.Empty(t, left)
		actions := e.accountActions(t, u.ID)
		require.Contains(t, actions, "user.passkey_registered")
		require.Contains(t, actions, "user.passkey_removed")
	})
}

// TestPasskeySignInLimitedPerIP: the passwordless sign-in spends the
// log-in budget of the client's IP address, as log-in does: each
// ceremony begun, and each failed answer.
func TestPasskeySignInLimitedPerIP(t *testing.T) {
	t.Parallel()
	opt, _ := limits(ratelimit.Policies{ratelimit.LoginIP: {Count: 4, Period: time.Hour}})
	e := newPasskeyEnv(t, opt)
	u := e.user("rae@example.com")
	stranger := newSoftAuthenticator(t, "localhost", e.url)
	stranger.userHandle = []byte(u.ID)
	c := e.client()
	for i := range 2 {
		o := e.options(t, c, "/login/passkey/options")
		status, _, _ := e.post(t, c, "/login/passkey", url.Values{"credential": {stranger.get(o.PublicKey.Challenge)}}, false)
		require.Equal(t, http.StatusUnauthorized, status, "attempt %d", i+1)
	}
	status, _, body := e.post(t, c, "/login/passkey/options", nil, true)
	require.Equal(t, http.StatusTooManyRequests, status, body)
	status, _, _ = e.post(t, c, "/login/passkey", url.Values{"credential": {"{}"}}, false)
	require.Equal(t, http.StatusTooManyRequests, status)
}
