// Package maintenance holds the housekeeping work of the maintenance queue:
// a heartbeat row written every minute (it proves the job system runs and
// gives point-in-time recovery a clock to check against) and the pruning of
// expired rows.
package maintenance
