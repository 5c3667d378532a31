-- gc.lua: garbage in volume, full and incremental/generational
-- collections, weak tables, and memory that must go back after a
-- collect (compared as booleans: exact KiB counts differ by platform).

local function churn(n)
  local keep = {}
  for i = 1, n do
    local t = { i, tostring(i), { i } }
    if i % 100 == 0 then keep[#keep + 1] = t end
  end
  return keep
end

local before = collectgarbage("count")
local kept = churn(40000)
print("kept", #kept, kept[#kept][2])
collectgarbage("collect")
local after_keep = collectgarbage("count")
kept = nil
collectgarbage("collect")
local after_drop = collectgarbage("count")
print("dropping frees memory", after_drop < after_keep)

-- Weak values and weak keys: cleared by a full collection.
local cache = setmetatable({}, { __mode = "v" })
local strong = {}
for i = 1, 1000 do
  local v = { i }
  cache[i] = v
  if i % 10 == 0 then strong[#strong + 1] = v end
end
collectgarbage("collect")
local n = 0
for _ in pairs(cache) do n = n + 1 end
print("weak values left", n)

local wk = setmetatable({}, { __mode = "k" })
local holders = {}
for i = 1, 1000 do
  local k = {}
  wk[k] = i
  if i % 4 == 0 then holders[#holders + 1] = k end
end
collectgarbage("collect")
n = 0
for _ in pairs(wk) do n = n + 1 end
print("weak keys left", n)

-- Ephemerons: a value that refers to its own key does not keep it.
local eph = setmetatable({}, { __mode = "k" })
for i = 1, 100 do
  local k = {}
  eph[k] = { ref = k, i = i }
end
collectgarbage("collect")
n = 0
for _ in pairs(eph) do n = n + 1 end
print("ephemerons left", n)

-- Incremental steps, then generational mode, then back.
print("mode", collectgarbage("incremental"))
for _ = 1, 3 do
  churn(8000)
  local done = false
  for _ = 1, 10000 do
    if collectgarbage("step", 0) then done = true; break end
  end
  print("step cycle finished", done)
end
print("mode", collectgarbage("generational"))
for _ = 1, 3 do churn(10000) end
collectgarbage("collect")
print("mode", collectgarbage("incremental"))
print("running", collectgarbage("isrunning"))

-- Strings and closures as garbage too.
local s = 0
for i = 1, 20000 do
  local str = string.rep("x", i % 200) .. i
  local f = function() return #str end
  s = s + f()
end
print("string/closure garbage", s)

-- Large blocks (beyond hakmem's pool tier): big arrays and long strings.
local bigs = {}
for i = 1, 8 do
  local t = {}
  for j = 1, 20000 do t[j] = j end
  bigs[i] = t
end
local long = string.rep("0123456789", 20000)
print("large", #bigs, #bigs[8], #long)
bigs, long = nil, nil
collectgarbage("collect")
print("large blocks freed", collectgarbage("count") < after_keep)
print("done")
