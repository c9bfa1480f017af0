"""What one student's process may leave behind, and a probe of everything the next one could find.

`POLLUTERS` each leave one kind of thing behind (files of any mode, System V and POSIX IPC, keys, processes,
sockets, environment); `PROBE` prints, as JSON, everything of those kinds a student's process can see (but the
read-only folders the sandbox binds in, the interpreter's: they hold nobody's state)."""
import textwrap

SECRET = "the-answer-is-42"

_PRELUDE = """
import ctypes, ctypes.util, json, os, signal, socket, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
librt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
SYS_add_key, SYS_keyctl = {"x86_64": (248, 250), "aarch64": (217, 219)}[os.uname().machine]
IPC_CREAT, O_CREAT, O_RDWR, O_RDONLY = 0o1000, 0o100, 2, 0
KEYS = {"user": -4, "session": -3, "user-session": -5}
"""

POLLUTERS = {
    "files of every mode": f"""
        for top in (os.getcwd(), os.path.expanduser("~"), "/tmp", "/tmp/run", "/dev/shm"):
            try:
                os.makedirs(f"{{top}}/leak/inner", exist_ok=True)
                with open(f"{{top}}/leak/inner/answers.txt", "w") as file:
                    file.write("{SECRET}")
                with open(f"{{top}}/leak-file", "w") as file:
                    file.write("{SECRET}")
                os.chmod(f"{{top}}/leak-file", 0)
                os.chmod(f"{{top}}/leak/inner", 0o500)
                os.chmod(f"{{top}}/leak", 0o500)
            except OSError:
                pass
    """,
    "System V IPC": """
        shm = libc.shmget(0x5EC0, 4096, IPC_CREAT | 0o666)
        address = libc.shmat(shm, None, 0)
        libc.semget(0x5EC1, 1, IPC_CREAT | 0o666)
        libc.msgget(0x5EC2, IPC_CREAT | 0o666)
    """,
    "POSIX IPC": """
        librt.mq_open(b"/leak", O_CREAT | O_RDWR, 0o666, None)
        try:
            with open("/dev/shm/leak-posix-shm", "w") as file:
                file.write("x")
        except OSError:
            pass
    """,
    "keys in every keyring": f"""
        for keyring in KEYS.values():
            libc.syscall(SYS_add_key, b"user", b"leak", b"{SECRET}", {len(SECRET)}, ctypes.c_long(keyring))
    """,
    "processes that outlive the student": """
        subprocess.Popen(["sleep", "60"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.setitimer(signal.ITIMER_REAL, 30)
                time.sleep(60)
            os._exit(0)
        time.sleep(0.05)
    """,
    "a listening abstract socket": """
        if os.fork() == 0:
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind("\\0leak-socket")
            server.listen()
            time.sleep(60)
            os._exit(0)
        time.sleep(0.05)
    """,
    "environment": f"""
        os.environ["LEAK"] = "{SECRET}"
        os.putenv("LEAK_PUT", "{SECRET}")
    """,
}

PROBE = f"""
own = os.getcwd()
files = []
def bound_read_only(path):  # the interpreter's folders the sandbox binds in (under /tmp on a CI runner): no one's state
    try:
        return os.path.ismount(path) and os.statvfs(path).f_flag & os.ST_RDONLY
    except OSError:
        return False
for top in ("/tmp", "/dev/shm", os.path.expanduser("~")):
    for root, folders, names in os.walk(top):
        folders[:] = [name for name in folders if not bound_read_only(os.path.join(root, name))]
        for name in folders + names:
            path = os.path.join(root, name)
            if not (own == path or own.startswith(path + "/") or path.startswith(own + "/")):
                files.append(path)
def readable_secret():
    for path in files:
        try:
            with open(path, errors="replace") as file:
                if "{SECRET}" in file.read(1_000_000):
                    return True
        except (OSError, ValueError):
            pass
    return False
ancestors, pid = set(), os.getpid()  # the sandbox's own processes, of the student's uid when the grader is not root
while pid > 1:
    pid = int(open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[1])
    ancestors.add(pid)
processes = []
for entry in filter(str.isdigit, os.listdir("/proc")):
    try:
        status = dict(line.split(":", 1) for line in open(f"/proc/{{entry}}/status") if ":" in line)
    except OSError:
        continue
    if int(entry) != os.getpid() and int(entry) not in ancestors and int(status["Uid"].split()[0]) == os.getuid() \
            and "Z" not in status["State"]:
        processes.append(status["Name"].strip())
keys = {{}}
for name, keyring in KEYS.items():
    found = libc.syscall(SYS_keyctl, 10, ctypes.c_long(keyring), b"user", b"leak", 0)
    keys[name] = found != -1
unix = [line.split()[-1] for line in open("/proc/net/unix").read().splitlines()[1:] if "leak" in line]
print(json.dumps({{
    "files": sorted(set(files)),
    "secret readable": readable_secret(),
    "System V shm": libc.shmget(0x5EC0, 0, 0) != -1,
    "System V sem": libc.semget(0x5EC1, 0, 0) != -1,
    "System V msg": libc.msgget(0x5EC2, 0) != -1,
    "sysvipc": {{kind: open(f"/proc/sysvipc/{{kind}}").read().splitlines()[1:] for kind in ("shm", "sem", "msg")}},
    "POSIX mqueue": librt.mq_open(b"/leak", O_RDONLY, 0, None) != -1,
    "keys": keys,
    "processes": sorted(processes),
    "sockets": unix,
    "environment": sorted(name for name in os.environ if "LEAK" in name),
}}, sort_keys=True))
"""


def polluter(names) -> str:
    return _PRELUDE + "".join(textwrap.dedent(POLLUTERS[name]) for name in names)


def probe() -> str:
    return _PRELUDE + PROBE
