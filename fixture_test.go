package main

import "runtime"

// toolFixture is the content of a file the admin-command tests register:
// a #!/bin/sh script on Unix; on Windows, where no script is an identity
// and register refuses a #! line naming no absolute Windows path, the body
// alone (any file can be registered by its path and hash).
func toolFixture(body string) []byte {
	if runtime.GOOS == "windows" {
		return []byte(body)
	}
	return []byte("#!/bin/sh\n" + body)
}
