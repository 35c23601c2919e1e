package transport

import "github.com/keychain-auth/keychain-auth/internal/jsonw"

// appendLine appends r and a newline as WriteMessage's encoder writes
// them: the response's own fields unescaped for HTML (SetEscapeHTML(false)),
// each result as its MarshalJSON writes it (json.Marshal, which escapes
// <, > and &), fields in struct order, empty ones left out as their tags
// say (results only when nil: omitzero). wire_append_test.go compares the
// two byte for byte.
func (r *Response) appendLine(dst []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = jsonw.String(dst, r.Type, false)
	dst = jsonw.Key(dst, "status")
	dst = jsonw.String(dst, r.Status, false)
	if r.Reason != "" {
		dst = jsonw.Key(dst, "reason")
		dst = jsonw.String(dst, r.Reason, false)
	}
	if r.Results != nil {
		dst = jsonw.Key(dst, "results")
		dst = append(dst, '[')
		for i := range r.Results {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = r.Results[i].appendJSON(dst)
		}
		dst = append(dst, ']')
	}
	if r.Hint != "" {
		dst = jsonw.Key(dst, "hint")
		dst = jsonw.String(dst, r.Hint, false)
	}
	return append(dst, '}', '\n')
}

// appendJSON appends what MarshalJSON returns, without its allocations.
func (r *Result) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"target":`...)
	dst = jsonw.String(dst, r.Target, true)
	if r.HasValue {
		dst = jsonw.Key(dst, "value")
		dst = jsonw.String(dst, r.Value.Reveal(), true)
	}
	if len(r.Attributes) > 0 {
		dst = jsonw.Key(dst, "attributes")
		dst = jsonw.StringMap(dst, r.Attributes, true)
	}
	return append(dst, '}')
}
