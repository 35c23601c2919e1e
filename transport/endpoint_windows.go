package transport

// defaultEndpoint is the named pipe (spec §2).
func defaultEndpoint() (string, error) { return `\\.\pipe\keychain-auth`, nil }
