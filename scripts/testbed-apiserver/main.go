// connect-gr-testbed-apiserver: the upstream apiextensions-apiserver (k8s.io/apiextensions-apiserver,
// unmodified) started standalone, with one difference: it serves discovery (/apis, aggregated
// discovery included). Inside kube-apiserver the aggregator serves /apis, so the upstream
// CompletedConfig switches the generic server's discovery off; run alone, kubectl and kube-rs
// would find no resources. It also sets the OpenAPI v2 config, so that the CRD OpenAPI
// controllers run (kubectl apply validation and kubectl explain). Everything else (CRDs, OpenAPI and CEL validation, status, SSA, watch,
// finalizers) is the upstream code path.
package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"k8s.io/apiextensions-apiserver/pkg/apiserver"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/component-base/cli"
)

func main() {
	ctx := genericapiserver.SetupSignalContext()
	o := options.NewCustomResourceDefinitionsServerOptions(os.Stdout, os.Stderr)
	cmd := &cobra.Command{
		Use:   "connect-gr-testbed-apiserver",
		Short: "apiextensions-apiserver with discovery, for connect-gr's test bed",
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return o.ServerRunOptions.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return run(c.Context(), o)
		},
	}
	cmd.SetContext(ctx)
	o.AddFlags(cmd.Flags())
	os.Exit(cli.Run(cmd))
}

func run(ctx context.Context, o *options.CustomResourceDefinitionsServerOptions) error {
	config, err := o.Config()
	if err != nil {
		return err
	}
	// Upstream sets only the OpenAPI v3 config; without the v2 config (StaticOpenAPISpec) the CRD
	// OpenAPI controllers do not run, so neither /openapi/v2 nor /openapi/v3 would list the custom
	// resources and kubectl could neither validate nor explain them.
	config.GenericConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(
		openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions),
		openapinamer.NewDefinitionNamer(apiserver.Scheme, scheme.Scheme))
	completed := config.Complete()
	// Complete() turns discovery off (the aggregator serves it in kube-apiserver); turn it back on.
	completed.GenericConfig.EnableDiscovery = true
	server, err := completed.New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return err
	}
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
