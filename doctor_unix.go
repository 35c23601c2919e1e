//go:build unix

package main

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// ownerOf is the uid that owns a file.
func ownerOf(fi os.FileInfo) (uint32, bool) {
	if fi == nil {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}

// userName is "name (uid N)", or "uid N" for an unknown uid.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}
