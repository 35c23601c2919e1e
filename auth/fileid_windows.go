package auth

import (
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// fileBasicInfo is FILE_BASIC_INFO.
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// fileVersion is the cache key of an opened file (volume, file index, size,
// last write and change times) and its change time.
func fileVersion(h windows.Handle) (fileKey, time.Time, error) {
	var fi windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &fi); err != nil {
		return fileKey{}, time.Time{}, err
	}
	var bi fileBasicInfo
	if err := windows.GetFileInformationByHandleEx(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&bi)), uint32(unsafe.Sizeof(bi))); err != nil {
		return fileKey{}, time.Time{}, err
	}
	mtime, ctime := filetimeNanos(bi.LastWriteTime), filetimeNanos(bi.ChangeTime)
	k := fileKey{
		dev:      uint64(fi.VolumeSerialNumber),
		ino:      uint64(fi.FileIndexHigh)<<32 | uint64(fi.FileIndexLow),
		size:     uint64(fi.FileSizeHigh)<<32 | uint64(fi.FileSizeLow),
		mtimeSec: mtime / 1e9, mtimeNsec: mtime % 1e9,
		ctimeSec: ctime / 1e9, ctimeNsec: ctime % 1e9,
	}
	return k, time.Unix(0, ctime), nil
}

// filetimeNanos converts a FILETIME held as one integer to Unix nanoseconds.
func filetimeNanos(t int64) int64 {
	ft := windows.Filetime{LowDateTime: uint32(t), HighDateTime: uint32(t >> 32)}
	return ft.Nanoseconds()
}
