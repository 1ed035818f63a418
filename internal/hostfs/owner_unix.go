package hostfs

import (
	"io/fs"
	"syscall"
)

func ownerOf(fi fs.FileInfo) Owner {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return Owner{int(st.Uid), int(st.Gid)}
	}
	return Owner{-1, -1}
}

// OwnerOf returns the numeric owner of a file.
func OwnerOf(fi fs.FileInfo) Owner { return ownerOf(fi) }
