package gw

import "context"

type ctxKey int

const (
	requestIDKey ctxKey = iota
)

// WithRequestID returns a copy of ctx carrying the request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request ID carried by ctx, or "" if there is none.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Client describes where a request comes from, for audit records and rate
// limits: the client's IP (from trusted proxies' X-Forwarded-For, or the
// peer) and its user agent.
type Client struct {
	IP        string
	UserAgent string
}

type clientKey struct{}

// WithClient returns a copy of ctx carrying c.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// ClientFrom returns the Client carried by ctx, or the zero Client.
func ClientFrom(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}
