package web

import (
	"encoding/base64"
	"fmt"
	"html/template"

	qrcode "github.com/skip2/go-qrcode"
)

// qrSize is the width and height, in pixels, of the QR code images.
const qrSize = 256

// qrDataURL returns text as a QR code: a PNG data: URL the page shows in
// an img (the CSP allows img-src data:), made on the server so that the
// secret it holds goes to no other site. Medium error correction, as
// authenticator apps scan from screens.
func qrDataURL(text string) (template.URL, error) {
	png, err := qrcode.Encode(text, qrcode.Medium, qrSize)
	if err != nil {
		return "", fmt.Errorf("encode QR code: %w", err)
	}
	// Safe: a data:image/png URL of our own making.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)), nil
}
