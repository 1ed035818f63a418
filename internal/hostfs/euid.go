package hostfs

import "os"

// Euid is the effective uid pfwdctl runs as. It is the one place the code
// asks, so whether a run is root (may chown, must refuse non-root work on
// the running system) is decided the same way everywhere, and a test can
// replace it to act as another user.
var Euid = os.Geteuid
