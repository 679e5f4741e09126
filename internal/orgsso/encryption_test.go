package orgsso_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/orgsso"
	"github.com/groundwork-dev/groundwork/internal/orgsso/dnstest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/sso/ssotest"
)

// TestReencrypt: after a key rotation the client secret is rewritten
// under the new primary key, and a sign-in still starts with it.
func TestReencrypt(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	keys1, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	orgs := org.NewService(db.Runtime, nil, gw.SystemClock{}, org.Config{}, nil)
	dns := dnstest.Start(t)
	cfg := orgsso.Config{BaseURL: "http://app.test", Members: orgs, Resolver: dns.Resolver()}
	svc1 := orgsso.NewService(db.Runtime, keys1, gw.SystemClock{}, cfg)
	owner := pgtest.MemberScope(t, db, gw.RoleOwner)
	pgtest.MemberScope(t, db, gw.RoleOwner) // an organisation without a connection
	op := ssotest.Start(t, "c", "s", svc1.RedirectURI())
	_, err = svc1.SaveConnection(ctx, owner, orgsso.ConnectionInput{Issuer: op.Issuer(), ClientID: "c", ClientSecret: "s"})
	require.NoError(t, err)

	enc, newID, err := keys1.Keyset(crypto.Encryption).Rotate(true)
	require.NoError(t, err)
	keys2, err := crypto.NewKeyring(enc, keys1.Keyset(crypto.BlindIndex))
	require.NoError(t, err)
	svc2 := orgsso.NewService(db.Runtime, keys2, gw.SystemClock{}, cfg)

	usage, err := svc2.KeyUsage(ctx)
	require.NoError(t, err)
	require.Len(t, usage, 1)
	require.Equal(t, keys1.Keyset(crypto.Encryption).PrimaryID(), usage[0].KeyID)
	n, err := svc2.Reencrypt(ctx, 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = svc2.Reencrypt(ctx, 100)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left")
	usage, err = svc2.KeyUsage(ctx)
	require.NoError(t, err)
	require.Equal(t, []crypto.KeyUsage{{Table: "org_sso_connections", Column: "client_secret", Kind: crypto.Encryption, KeyID: newID, Rows: 1}}, usage)

	// Readable under the new keys alone.
	enc3, err := enc.Remove(keys1.Keyset(crypto.Encryption).PrimaryID())
	require.NoError(t, err)
	keys3, err := crypto.NewKeyring(enc3, keys1.Keyset(crypto.BlindIndex))
	require.NoError(t, err)
	svc3 := orgsso.NewService(db.Runtime, keys3, gw.SystemClock{}, cfg)
	d, err := svc3.AddDomain(ctx, owner, "rotated.example")
	require.NoError(t, err)
	dns.SetTXT("rotated.example", d.Record())
	_, err = svc3.VerifyDomain(ctx, owner, d.ID)
	require.NoError(t, err)
	_, authURL, err := svc3.Begin(ctx, "ann@rotated.example", "/orgs")
	require.NoError(t, err, "the secret decrypts under the new key")
	require.Contains(t, authURL, op.Issuer())
}
