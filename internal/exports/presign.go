package exports

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Presigned downloads: when the blob store can sign URLs itself (S3, and
// a file bucket given a URL signer), a download link the app verified is
// answered with a redirect to a URL the store signed, so the file's bytes
// never pass through the app. The URL expires when the app's link does;
// on S3 it also makes the answer an attachment with the export's file name
// and media type (response-content-disposition and -type). A store that
// cannot sign (memory, a plain file bucket) is read through the app.

// presign returns a URL the bucket signed for GET of key until expires,
// or "" when the bucket cannot sign.
func (s *Service) presign(ctx context.Context, key string, d *Download, expires time.Time) (string, error) {
	ttl := expires.Sub(s.clock.Now())
	if ttl < time.Second {
		ttl = time.Second
	}
	disposition := mime.FormatMediaType("attachment", map[string]string{"filename": d.Name})
	u, err := s.bucket.SignedURL(ctx, key, &blob.SignedURLOptions{Expiry: ttl, Method: http.MethodGet,
		BeforeSign: func(as func(any) bool) error {
			var in *s3.GetObjectInput
			if as(&in) {
				in.ResponseContentDisposition = &disposition
				in.ResponseContentType = &d.ContentType
			}
			return nil
		}})
	if gcerrors.Code(err) == gcerrors.Unimplemented {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sign export download: %w", err)
	}
	return u, nil
}
