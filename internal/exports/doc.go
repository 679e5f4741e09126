// Package exports exports an organisation's data — contacts (email and
// phone decrypted), members and audit events — as CSV or JSON Lines, one
// gzip-compressed file per table or one zip of them, into a blob store.
//
// A request (Service.Request) records the export and enqueues its job in
// one transaction; the job (ExportWorker, on the jobs.QueueExports queue)
// runs on a connection pool of its own with its own statement_timeout and
// work_mem, reads a REPEATABLE READ snapshot with one streaming statement
// per table through the modules' ExportEach methods, and passes each row
// through the encoder and gzip straight into the blob writer: memory stays
// flat whatever the size. Progress is recorded every 10,000 rows, which is
// also where a cancellation is noticed; while the app is busy the export
// is paced (Config.MaxRowsPerSec). Every attempt starts from scratch: it deletes
// whatever an earlier attempt left, and a blob is only visible once its
// writer closed, so a killed worker leaves nothing half-written.
//
// Files are downloaded through links the app signs (Service.Link) and
// checks (Service.Open); RetentionWorker deletes them after the retention.
package exports
