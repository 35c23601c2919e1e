package config

import "slices"

// Find returns the index of the entry for path and a pointer to it, or
// -1 and nil. Paths are compared exactly, as stored (symlink-resolved).
func (c *Config) Find(path string) (int, *Entry) {
	for i := range c.RegisteredBinaries {
		if c.RegisteredBinaries[i].Path == path {
			return i, &c.RegisteredBinaries[i]
		}
	}
	return -1, nil
}

// Remove deletes the entry for path and reports whether there was one.
func (c *Config) Remove(path string) bool {
	i, _ := c.Find(path)
	if i < 0 {
		return false
	}
	c.RegisteredBinaries = slices.Delete(c.RegisteredBinaries, i, i+1)
	return true
}

// CanRead reports whether the entry lists service in allowed_read_services
// (exact, case-sensitive; there are no wildcards).
func (e *Entry) CanRead(service string) bool {
	return slices.Contains(e.AllowedReadServices, service)
}

// CanWrite reports whether the entry lists service in allowed_write_services.
func (e *Entry) CanWrite(service string) bool {
	return slices.Contains(e.AllowedWriteServices, service)
}

// GrantRead adds services to allowed_read_services, skipping any already there.
func (e *Entry) GrantRead(services ...string) {
	e.AllowedReadServices = addUnique(e.AllowedReadServices, services)
}

// GrantWrite adds services to allowed_write_services, skipping any already there.
func (e *Entry) GrantWrite(services ...string) {
	e.AllowedWriteServices = addUnique(e.AllowedWriteServices, services)
}

// RevokeRead removes every occurrence of services from allowed_read_services.
func (e *Entry) RevokeRead(services ...string) {
	e.AllowedReadServices = removeAll(e.AllowedReadServices, services)
}

// RevokeWrite removes every occurrence of services from allowed_write_services.
func (e *Entry) RevokeWrite(services ...string) {
	e.AllowedWriteServices = removeAll(e.AllowedWriteServices, services)
}

// CanRun reports whether the entry lists service in allowed_run_services:
// `keychain-auth run` may put that service's values into this program's
// environment on the program's own authority.
func (e *Entry) CanRun(service string) bool {
	return slices.Contains(e.AllowedRunServices, service)
}

// GrantRun adds services to allowed_run_services, skipping any already there.
func (e *Entry) GrantRun(services ...string) {
	e.AllowedRunServices = addUnique(e.AllowedRunServices, services)
}

// RevokeRun removes every occurrence of services from allowed_run_services;
// an empty list is stored as absent.
func (e *Entry) RevokeRun(services ...string) {
	e.AllowedRunServices = removeAll(e.AllowedRunServices, services)
	if len(e.AllowedRunServices) == 0 {
		e.AllowedRunServices = nil
	}
}

func addUnique(list, add []string) []string {
	out := slices.Clone(nonNil(list))
	for _, s := range add {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// removeAll returns a fresh slice, so a Config shared with a reader is
// never changed under it.
func removeAll(list, drop []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(drop, s) {
			out = append(out, s)
		}
	}
	return out
}
