package postgres

// DatabaseSetupSQL returns the statements of the role setup that run inside
// the application database (schema privileges and default privileges), for
// tests that build a database of their own.
func DatabaseSetupSQL() []string {
	var out []string
	for _, s := range setupSteps {
		if s.inDatabase {
			out = append(out, s.sql)
		}
	}
	return out
}

// CompatMarked exposes compatMarked to the tests.
var CompatMarked = compatMarked
