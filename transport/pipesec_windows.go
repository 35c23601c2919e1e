package transport

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// ErrPipeTaken: the pipe name exists already (another daemon, or a process
// squatting the name); ListenPipe refuses to share it.
var ErrPipeTaken = errors.New("the pipe name is already in use by another process")

// pipePrefix is the local pipe namespace; remote (\\host\pipe\...) names
// are refused.
const pipePrefix = `\\.\pipe\`

// checkPipeName accepts only local pipe names: on Windows --socket and
// KEYCHAIN_AUTH_SOCKET name a pipe, not a file.
func checkPipeName(name string) error {
	if len(name) <= len(pipePrefix) || !strings.EqualFold(name[:len(pipePrefix)], pipePrefix) ||
		strings.ContainsAny(name[len(pipePrefix):], `\/`) {
		return fmt.Errorf("endpoint %q: on Windows the endpoint is a local named pipe, %sNAME", name, pipePrefix)
	}
	return nil
}

// currentUser is the SID of the user the process runs as.
func currentUser() (*windows.SID, error) {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	return u.User.Sid, nil
}

// currentUserOnly is a non-inheritable security descriptor whose protected
// DACL grants the current user full access and nobody else anything (not
// Administrators, not SYSTEM, not other sessions of other users).
func currentUserOnly() (*windows.SecurityAttributes, error) {
	sid, err := currentUser()
	if err != nil {
		return nil, err
	}
	sd, err := windows.SecurityDescriptorFromString("D:P(A;;GA;;;" + sid.String() + ")")
	if err != nil {
		return nil, fmt.Errorf("pipe security descriptor: %w", err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd, InheritHandle: 0}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	return sa, nil
}

// processUser is the user SID of the process pid.
func processUser(pid uint32) (*windows.SID, error) {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return nil, fmt.Errorf("open process %d: %w", pid, err)
	}
	defer windows.CloseHandle(h)
	var tok windows.Token
	if err := windows.OpenProcessToken(h, windows.TOKEN_QUERY, &tok); err != nil {
		return nil, fmt.Errorf("token of process %d: %w", pid, err)
	}
	defer tok.Close()
	u, err := tok.GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("user of process %d: %w", pid, err)
	}
	return u.User.Sid.Copy()
}
