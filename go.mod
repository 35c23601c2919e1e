module github.com/keychain-auth/keychain-auth

go 1.26.0

require (
	github.com/danieljoos/wincred v1.2.3
	github.com/godbus/dbus/v5 v5.2.4
	github.com/keybase/go-keychain v0.0.1
	github.com/urfave/cli/v2 v2.27.7
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
)
