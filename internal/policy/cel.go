package policy

import (
	"fmt"

	"cel.dev/cel-go/cel"
)

// ConditionEnv returns the CEL environment of role conditions. A condition
// sees three maps and never a field value:
//
//	principal: id, roles (list), location
//	record:    jurisdiction, region, collection
//	request:   action, purpose, region
//
// CEL (cel.dev/cel-go) is the language of Kubernetes and Google Cloud IAM
// conditions: typed, side-effect free and bounded in cost, which a policy
// file needs; writing our own expression language would be worse.
func ConditionEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("principal", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("record", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("request", cel.MapType(cel.StringType, cel.StringType)),
	)
}

// CompileCondition compiles a role condition; it must yield a bool.
func CompileCondition(env *cel.Env, expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("condition yields %s, not a bool", ast.OutputType())
	}
	return env.Program(ast, cel.CostLimit(10000))
}

func checkCondition(expr string) error {
	env, err := ConditionEnv()
	if err != nil {
		return err
	}
	_, err = CompileCondition(env, expr)
	return err
}
