package query_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hubdesk/hubdesk/hub/emulator/query"
)

func ExampleParse() {
	q, err := query.Parse("SELECT * FROM devices WHERE STARTSWITH(deviceId, 'plant-') AND tags.site.floor >= 2")
	if err != nil {
		fmt.Println(err)
		return
	}
	prefix, ok := q.DeviceIDPrefix()
	fmt.Println(q.From(), prefix, ok)

	d := json.NewDecoder(strings.NewReader(`{"deviceId":"plant-7","tags":{"site":{"floor":3}}}`))
	d.UseNumber()
	var twin map[string]any
	if err := d.Decode(&twin); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q.Match(twin))

	_, err = query.Parse("SELECT * FROM devices WHERE status =")
	fmt.Println(err)
	// Output:
	// devices plant- true
	// true
	// syntax error at position 37: expected a value after '='
}
