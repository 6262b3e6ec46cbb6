package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relinquish gives up privileges once the capture socket is open, as
// tcpdump -Z does. As root it switches to the user name, or to nobody when
// name is empty and that user exists; "root" keeps root. Not as root, it
// drops the capabilities the binary may hold (setcap). It returns a note
// worth telling the user, if any.
func relinquish(name string) (string, error) {
	if os.Geteuid() != 0 {
		if name != "" {
			if u, err := user.Current(); err != nil || u.Username != name {
				return "", usagef("-Z %s: switching users needs root", name)
			}
		}
		if err := dropCapabilities(); err != nil {
			return "keeping the capabilities of the binary: " + err.Error(), nil
		}
		return "", nil
	}
	explicit := name != ""
	if !explicit {
		name = "nobody"
	}
	if name == "root" {
		return "", nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if !explicit {
			return "running as root: there is no user nobody to switch to (name one with -Z USER)", nil
		}
		return "", usagef("-Z %s: no such user", name)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("-Z %s: user ID %s, group ID %s", name, u.Uid, u.Gid)
	}
	gids := []int{gid}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil && g != gid {
				gids = append(gids, g)
			}
		}
	}
	// Go applies these to every thread of the process.
	if err := syscall.Setgroups(gids); err != nil {
		return "", fmt.Errorf("-Z %s: setgroups: %w", name, err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return "", fmt.Errorf("-Z %s: setgid: %w", name, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return "", fmt.Errorf("-Z %s: setuid: %w", name, err)
	}
	return "", nil
}

// dropCapabilities clears every capability of every thread. A build with
// cgo cannot: there the runtime cannot change all threads at once.
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		if e == syscall.ENOTSUP {
			return errors.New("this build uses cgo, which cannot drop them from every thread (build with CGO_ENABLED=0)")
		}
		return fmt.Errorf("capset: %w", e)
	}
	return nil
}
