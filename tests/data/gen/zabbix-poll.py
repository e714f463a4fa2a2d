# A Zabbix server's passive checks: connect, send a key in the ZBXD framing, read the answer.
import socket, struct, sys, time
keys = ["agent.ping", "system.uptime", "vm.memory.size[available]", "system.cpu.load[all,avg1]", "vfs.fs.size[/,pfree]", "agent.version"]
for i in range(12):
    k = keys[i % len(keys)].encode()
    s = socket.create_connection(("10.78.0.2", 10050), timeout=5)
    s.sendall(b"ZBXD\x01" + struct.pack("<Q", len(k)) + k)
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    s.close()
    print(k.decode(), data[13:].decode(errors="replace"))
    time.sleep(5)
