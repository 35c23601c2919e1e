package transport

import "golang.org/x/sys/unix"

const peerCredSupported = true

// peerUID is the uid of the process that created the peer socket (the
// listener, for a client), from SO_PEERCRED.
func peerUID(fd int) (uint32, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0, err
	}
	return cred.Uid, nil
}
