// connect-gr-argocd-health runs an Argo CD health check (Lua) on one Kubernetes object, the way
// Argo CD's controller does for a resource.customizations.health.<group>_<kind> entry: gopher-lua
// with only the package, base and table libraries opened (custom scripts run without the
// standard libraries unless useOpenLibs is set), the object in the global `obj`, a one-second
// limit, and the returned table read as {status, message}.
//
//	connect-gr-argocd-health SCRIPT.lua < object.json
//
// prints {"status": "...", "message": "..."} on stdout; exit 1 on a Lua error, a return value
// that is not a table, or a status Argo CD would not accept (Argo CD shows that as Unknown).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// toLua converts a decoded JSON value the way Argo CD's decodeValue does (arrays become
// 1-based tables, objects string-keyed tables, null nil).
func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch x := v.(type) {
	case bool:
		return lua.LBool(x)
	case float64:
		return lua.LNumber(x)
	case string:
		return lua.LString(x)
	case []interface{}:
		t := l.CreateTable(len(x), 0)
		for _, item := range x {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.CreateTable(0, len(x))
		for k, item := range x {
			t.RawSetH(lua.LString(k), toLua(l, item))
		}
		return t
	}
	return lua.LNil
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "argocd-health: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: %s SCRIPT.lua < object.json", os.Args[0])
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading the object: %v", err)
	}
	var obj map[string]interface{}
	if err := json.Unmarshal(input, &obj); err != nil {
		fail("the object is not JSON: %v", err)
	}

	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			fail("opening %s: %v", lib.name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(string(script)); err != nil {
		fail("lua: %v", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		fail("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	out := map[string]string{}
	ret.ForEach(func(k, v lua.LValue) {
		if ks, ok := k.(lua.LString); ok {
			if vs, ok := v.(lua.LString); ok {
				out[string(ks)] = string(vs)
			}
		}
	})
	switch out["status"] {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
	default:
		fail("Lua returned an invalid health status %q", out["status"])
	}
	enc, _ := json.Marshal(map[string]string{"status": out["status"], "message": out["message"]})
	fmt.Println(string(enc))
}
