package exports_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/require"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"

	"github.com/groundwork-dev/groundwork/internal/exports"
)

// presignService is b's Service on bucket.
func presignService(b *bundle, bucket *blob.Bucket) *exports.Service {
	return exports.NewService(b.db.Runtime, nil, bucket, b.mods.Keys, b.mods.Jobs, b.clock,
		exports.Sources{Contacts: b.mods.Contacts, Members: b.mods.Orgs, Audit: b.mods.Audit}, exports.Config{})
}

// openLink runs an export on svc and opens its file's signed link.
func openLink(t *testing.T, b *bundle, svc *exports.Service) (*exports.Download, exports.Export) {
	t.Helper()
	ctx := context.Background()
	e, err := svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
	require.NoError(t, err)
	require.NoError(t, svc.Run(ctx, e.OrgID, e.ID, 1, 3))
	e, err = svc.Get(ctx, b.owner, e.ID)
	require.NoError(t, err)
	link, err := svc.Link(e, "contacts.csv.gz")
	require.NoError(t, err)
	d, err := svc.Open(ctx, strings.TrimPrefix(link, "/downloads/"))
	require.NoError(t, err)
	return d, e
}

// TestPresignedDownloadS3: with an S3 store (gofakes3 on loopback, through
// the same s3blob driver and AWS SDK as a real bucket), a verified link
// answers with a presigned URL that expires with the app's link and names
// the attachment; the URL serves the file.
func TestPresignedDownloadS3(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.contact(t, "Ada", "ada@example.com", "")
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket("exports"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
	bucket, err := s3blob.OpenBucket(ctx, client, "exports", nil)
	require.NoError(t, err)
	t.Cleanup(func() { bucket.Close() })

	d, e := openLink(t, b, presignService(b, bucket))
	require.Nil(t, d.ReadCloser)
	require.True(t, strings.HasPrefix(d.RedirectURL, srv.URL+"/exports/exports/"+e.OrgID+"/"+e.ID+"/1/contacts.csv.gz?"), d.RedirectURL)
	u, err := url.Parse(d.RedirectURL)
	require.NoError(t, err)
	require.Equal(t, `attachment; filename=`+d.Name, u.Query().Get("response-content-disposition"))
	require.Equal(t, "application/gzip", u.Query().Get("response-content-type"))
	require.Equal(t, "3600", u.Query().Get("X-Amz-Expires"), "valid as long as the app's link")

	resp, err := http.Get(d.RedirectURL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(gunzip(t, body)), "ada@example.com")
}

// TestPresignedDownloadFileSigner: any store that can sign is redirected
// to (a file bucket with a URL signer), the URL naming the export's file
// and expiring with the app's link; one that cannot (memory) is read
// through the app.
func TestPresignedDownloadFileSigner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.contact(t, "Ada", "ada@example.com", "")
	base, err := url.Parse("https://files.example/signed")
	require.NoError(t, err)
	signer := fileblob.NewURLSignerHMAC(base, []byte("test secret"))
	fb, err := fileblob.OpenBucket(t.TempDir(), &fileblob.Options{URLSigner: signer})
	require.NoError(t, err)
	t.Cleanup(func() { fb.Close() })

	d, e := openLink(t, b, presignService(b, fb))
	require.Nil(t, d.ReadCloser)
	u, err := url.Parse(d.RedirectURL)
	require.NoError(t, err)
	require.Equal(t, "files.example", u.Host)
	key, err := signer.KeyFromURL(ctx, u)
	require.NoError(t, err)
	require.Equal(t, "exports/"+e.OrgID+"/"+e.ID+"/1/contacts.csv.gz", key)
	exp, err := strconv.ParseInt(u.Query().Get("expiry"), 10, 64)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), time.Unix(exp, 0), 5*time.Minute,
		"the link's hour, counted by the store from its own clock")

	d, _ = openLink(t, b, b.svc) // memory: no signing
	require.Empty(t, d.RedirectURL)
	require.NotNil(t, d.ReadCloser)
	require.NoError(t, d.Close())
}
