-- Test harness: runs health.lua the way Argo CD does (a chunk that reads the global obj and
-- returns {status, message}) and prints "status<TAB>message".
-- Usage: lua5.4 run-health.lua HEALTH_SCRIPT OBJECT_FILE, where OBJECT_FILE is a Lua chunk
-- that returns the object as a table.
local script, objectFile = arg[1], arg[2]
obj = assert(loadfile(objectFile))()
local hs = assert(loadfile(script))()
io.write(tostring(hs.status), "\t", tostring(hs.message or ""), "\n")
