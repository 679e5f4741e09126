package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Redis is the Backend shared by every instance on one Redis server. It is
// GCRA as implemented by github.com/go-redis/redis_rate (one Lua script per
// decision, atomic in Redis, timed by Redis's clock so instances need not
// agree on the time). Keys are "rate:gw:POLICY:HASH" and expire once their
// budget is full again.
type Redis struct {
	client  *redis.Client
	limiter *redis_rate.Limiter
}

// Timeouts for Redis when REDIS_URL does not set them: a rate-limit decision
// that waits on an unreachable Redis delays a request, so give up quickly
// and let the request through.
const (
	redisDialTimeout = time.Second
	redisIOTimeout   = 500 * time.Millisecond
)

// NewRedis returns a Redis backend for the server at url
// (redis://[:password@]host:port[/db], rediss:// for TLS, or unix://). Query
// parameters such as dial_timeout or read_timeout override the short
// defaults. It does not connect until the first decision.
func NewRedis(url string) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = redisDialTimeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = redisIOTimeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = redisIOTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	// Maintenance notifications are a managed-Redis feature; plain servers
	// refuse the command, so do not ask.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	client := redis.NewClient(opt)
	return &Redis{client: client, limiter: redis_rate.NewLimiter(client)}, nil
}

// Take implements Backend. A negative n is redis_rate's AllowN with a
// negative cost, which moves the key's arrival time back; when that would
// put it at or before now (the budget was full before the event) the script
// stores nothing, so the refund of that one event is lost until it comes
// back by itself, Period/Count later. Limits err on the strict side.
func (r *Redis) Take(ctx context.Context, policy Policy, key string, l Limit, n int) (Decision, error) {
	res, err := r.limiter.AllowN(ctx, "gw:"+string(policy)+":"+key,
		redis_rate.Limit{Rate: l.Count, Burst: l.Count, Period: l.Period}, n)
	if err != nil {
		return Decision{}, err
	}
	// A negative n always succeeds (it moves the arrival time back) and the
	// script reports the negative cost as the number allowed: judge by n too.
	d := Decision{Allowed: n < 0 || res.Allowed > 0, ResetAfter: max(0, res.ResetAfter)}
	if n == 0 {
		// A peek: a cost of 0 stores nothing and reports the whole events
		// left; the next one comes once the budget is back but Count-1.
		d.Allowed = res.Remaining >= 1
		if !d.Allowed {
			d.RetryAfter = max(0, res.ResetAfter-time.Duration(l.Count-1)*l.emission())
			return d, nil
		}
	}
	if d.Allowed {
		d.Remaining = max(0, res.Remaining)
	} else {
		d.RetryAfter = max(0, res.RetryAfter)
	}
	return d, nil
}

// Close implements Backend; it closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }
