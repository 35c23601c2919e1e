package config

import (
	"fmt"
	"slices"
)

// KnownFields returns the field names this version reads: those of the top
// level and those of an entry of registered_binaries. `doctor` uses them to
// name the likely intended field of a misspelled one.
func KnownFields() (top, entry []string) {
	return []string{keyProtocolVersion, keyRegistered},
		[]string{keyPath, keyHash, keyRegisteredAt, keyReadServices, keyWriteServices, keyCanSearch, keyAllowEnv, keyRunServices, keyInterpreter}
}

// UnknownField is a field of the policy file this version does not read.
// It is kept when the CLI rewrites the file, and otherwise ignored: a
// misspelled permission grants nothing.
type UnknownField struct {
	// Where is "" for the top level, else "registered_binaries[N]".
	Where string
	// Name is the field's name as written in the file.
	Name string
	// Entry reports a field of an entry (compare with KnownFields' entry).
	Entry bool
}

func (f UnknownField) String() string {
	if f.Where == "" {
		return f.Name
	}
	return f.Where + "." + f.Name
}

// UnknownFields lists the fields of c that this version does not know, the
// top level first, each level in sorted order.
func (c *Config) UnknownFields() []UnknownField {
	var out []UnknownField
	for _, k := range sortedKeys(c.extra) {
		out = append(out, UnknownField{Name: k})
	}
	for i := range c.RegisteredBinaries {
		where := fmt.Sprintf("%s[%d]", keyRegistered, i)
		for _, k := range sortedKeys(c.RegisteredBinaries[i].extra) {
			out = append(out, UnknownField{Where: where, Name: k, Entry: true})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
