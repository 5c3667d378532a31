-- strings.lua: building, interning, formatting, pattern matching and
-- utf8 over many short and long strings.

-- Short strings are interned: many equal strings made at run time.
local seen, uniq = {}, 0
for i = 1, 30000 do
  local s = "s" .. (i % 1000)
  if not seen[s] then seen[s] = true; uniq = uniq + 1 end
end
print("interned", uniq)

-- Long strings built by concatenation and by table.concat.
local parts = {}
for i = 1, 5000 do parts[#parts + 1] = tostring(i) end
local long = table.concat(parts, "+")
print("long", #long, long:sub(1, 20), long:sub(-12))
local acc = ""
for i = 1, 2000 do acc = acc .. string.char(65 + i % 26) end
print("acc", #acc, acc:sub(1, 30))
print("rep", #string.rep("abc", 10000, ","), string.rep("ab", 3, "-"))

-- Formatting: integers, floats, hex, padding, %q.
print(string.format("%d %5d %-5d| %x %X %o", 42, -7, 3, 255, 48879, 8))
print(string.format("%.3f %10.2f %e %g %g", math.pi, -2.5, 12345.678, 1e20, 0.1))
print(string.format("%q", "a \"quoted\"\n\tstring\0end"))
print(string.format("%s|%10s|%-10s|", "x", "right", "left"))
print(1/3, -1/3, 100/7, 2^63, -2^63, 1e300 * 10, 3 // 2, 3.0 // 2, 7 % -3)
print(math.maxinteger, math.mininteger, math.maxinteger + 1 == math.mininteger)
print(tostring(1e15), tostring(1e16), 123456789012345678)
print(tonumber("0x1p4"), tonumber("  12  "), tonumber("1e2"), tonumber("z", 36))

-- Patterns: gsub with strings, tables and functions; gmatch; find.
local text = string.rep("the quick brown fox jumps over the lazy dog ", 200)
local count = select(2, text:gsub("the", "THE"))
print("gsub count", count)
local caps = text:gsub("(%w+)", function(w) return w:upper() end)
print("gsub fn", #caps, caps:sub(1, 44))
local map = { quick = "slow", lazy = "busy" }
print("gsub table", (text:sub(1, 44):gsub("%w+", map)))
local freq = {}
for w in text:gmatch("%a+") do freq[w] = (freq[w] or 0) + 1 end
local ws = {}
for w, c in pairs(freq) do ws[#ws + 1] = w .. "=" .. c end
table.sort(ws)
print("gmatch", table.concat(ws, " "))
print("find", text:find("fox"), text:find("o", 20, true), text:match("(%a+) (%a+)$"))
print("byte/char", ("hello"):byte(1, -1))
print(string.char(104, 105), ("Hello"):lower(), ("Hello"):upper(), ("abc"):reverse())

-- utf8
local u = "héllo wörld ✓ 日本"
print("utf8", utf8.len(u), #u, utf8.char(72, 228, 8364, 128512))
local cps = {}
for _, c in utf8.codes(u) do cps[#cps + 1] = c end
print("codes", table.concat(cps, ","))
print("offset", utf8.offset(u, 3), utf8.codepoint(u, 1, 3))

-- Strings as table keys, churned: build, drop, rebuild.
for round = 1, 3 do
  local t = {}
  for i = 1, 5000 do t[string.format("k%05d-%d", i, round)] = i end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  print("round", round, n)
end
collectgarbage("collect")
print("done")
