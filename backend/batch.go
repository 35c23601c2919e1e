package backend

import (
	"errors"
	"fmt"
)

// itemOps is what a store that cannot apply a batch atomically (the Secret
// Service, the Windows Credential Manager, the macOS Keychain) offers the
// batch helpers: one item at a time. The helpers give those stores the
// Store contract for Set and Delete: when a write fails part way, the items
// already written are put back as they were.
//
// The rollback is best effort by nature: it runs through the same store that
// just failed, so if the store has gone away (bus closed, keyring locked in
// between) the restore fails too. Both errors are then returned, joined, and
// the store may hold a mix of old and new values. Another process writing the
// same items during the batch is not detected.
type itemOps interface {
	// getOne returns the item with its value; a missing key is ErrNotFound.
	getOne(service, key string) (Item, error)
	// putOne creates or overwrites one item.
	putOne(service string, it Item) error
	// deleteOne removes one item; a missing key is not an error.
	deleteOne(service, key string) error
}

// errDamaged marks an item a store cannot read back (a torn or foreign
// record under the store's own name). A batch may overwrite or delete it;
// a rollback cannot restore it and removes it instead.
var errDamaged = errors.New("item is damaged")

// snapshot is the state of one key before a batch touched it.
type snapshot struct {
	key     string
	existed bool
	prev    Item
}

// takeSnapshots reads the current state of keys, first occurrence first,
// skipping duplicates (the earliest state is the one to restore).
func takeSnapshots(ops itemOps, service string, keys []string) ([]snapshot, error) {
	seen := make(map[string]bool, len(keys))
	snaps := make([]snapshot, 0, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		prev, err := ops.getOne(service, k)
		switch {
		case err == nil:
			snaps = append(snaps, snapshot{key: k, existed: true, prev: prev})
		case errors.Is(err, ErrNotFound), errors.Is(err, errDamaged):
			snaps = append(snaps, snapshot{key: k})
		default:
			return nil, fmt.Errorf("read %q before writing: %w", k, err)
		}
	}
	return snaps, nil
}

// restore puts back the snapshots of the keys in touched, newest first.
func restore(ops itemOps, service string, snaps []snapshot, touched map[string]bool) error {
	var errs []error
	for i := len(snaps) - 1; i >= 0; i-- {
		s := snaps[i]
		if !touched[s.key] {
			continue
		}
		var err error
		if s.existed {
			err = ops.putOne(service, s.prev)
		} else {
			err = ops.deleteOne(service, s.key)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("restore %q: %w", s.key, err))
		}
	}
	return errors.Join(errs...)
}

// setBatch writes items one by one and, if one fails, puts back every item
// it touched, the failing one included (a failed write may have left part of
// it behind, as a chunked Credential Manager value can).
func setBatch(ops itemOps, service string, items []Item) error {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	snaps, err := takeSnapshots(ops, service, keys)
	if err != nil {
		return fmt.Errorf("set: %w", err)
	}
	touched := make(map[string]bool, len(items))
	for _, it := range items {
		touched[it.Key] = true
		if err := ops.putOne(service, it); err != nil {
			err = fmt.Errorf("set %q: %w", it.Key, err)
			if rerr := restore(ops, service, snaps, touched); rerr != nil {
				return errors.Join(err, fmt.Errorf("rollback incomplete: %w", rerr))
			}
			return err
		}
	}
	return nil
}

// deleteBatch removes keys one by one and, if one fails, recreates the ones
// it already removed.
func deleteBatch(ops itemOps, service string, keys []string) error {
	snaps, err := takeSnapshots(ops, service, keys)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	touched := make(map[string]bool, len(keys))
	for _, s := range snaps {
		if !s.existed {
			continue
		}
		touched[s.key] = true
		if err := ops.deleteOne(service, s.key); err != nil {
			err = fmt.Errorf("delete %q: %w", s.key, err)
			if rerr := restore(ops, service, snaps, touched); rerr != nil {
				return errors.Join(err, fmt.Errorf("rollback incomplete: %w", rerr))
			}
			return err
		}
	}
	return nil
}
