//go:build darwin || windows

package transport

// CacheEndpoint: macOS and Windows have one default endpoint whatever the
// environment, so there is no second one to answer on.
func CacheEndpoint() (path string, ok bool, err error) { return "", false, nil }
