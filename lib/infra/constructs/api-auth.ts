// Who may call the API, as chosen in `api.auth`:
//
// - cognito (default): a user pool of machine clients. Each configured client is an app client
//   with the client-credentials grant and a secret, allowed the scopes it is configured with on
//   the `fathom` resource server (`fathom/score`, `fathom/ingest`, `fathom/label`, `fathom/read`).
//   API Gateway's Cognito authorizer verifies the access token and checks each method's scope.
// - oidc: an existing issuer. A Lambda TOKEN authorizer (lambdas/authorizer) verifies the bearer
//   token against the issuer's JWKS with jose and answers a policy allowing exactly the routes the
//   token's scopes open, so the scope check is the authorizer's (lib/core/api/scopes.ts).
import { Aws, CfnOutput, Duration, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SCOPES, type Scope } from '../../core/api/routes';
import { SCOPE_RESOURCE_SERVER } from '../../core/api/scopes';
import { ENV } from '../../core/resources';
import type { FathomConfig } from '../config';
import { ApiFunction } from './api-function';
import type { PowertoolsLogLevel } from './feature-transform';
import { pascal } from './api-usage-plans';

export type ApiAuthSettings = FathomConfig['api']['auth'];

export interface ApiAuthClient {
  readonly name: string;
  readonly scopes: readonly Scope[];
}

export interface ApiAuthProps {
  readonly settings: ApiAuthSettings;
  /** Physical-name prefix (pool, clients, authorizer). */
  readonly prefix: string;
  /** The clients to issue credentials to (cognito mode). */
  readonly clients: readonly ApiAuthClient[];
  /** The authorizer function's settings (oidc mode). */
  readonly authorizerFunction: {
    readonly entry?: string;
    readonly memorySize: number;
    readonly timeout: Duration;
    readonly logRetention: logs.RetentionDays;
    readonly logLevel: PowertoolsLogLevel;
    readonly tracing: lambda.Tracing;
  };
}

/** What a method needs to require a token (and, in cognito mode, a scope). */
export interface MethodAuthorization {
  readonly authorizer: apigw.IAuthorizer;
  readonly authorizationType: apigw.AuthorizationType;
  readonly authorizationScopes?: string[];
}

/** A bearer JWT: three base64url parts. API Gateway refuses anything else (401) without calling the authorizer. */
export const BEARER_TOKEN_PATTERN = '^Bearer [A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$';

export class ApiAuth extends Construct {
  readonly mode: ApiAuthSettings['mode'];
  readonly authorizer: apigw.CognitoUserPoolsAuthorizer | apigw.TokenAuthorizer;
  readonly userPool?: cognito.UserPool;
  readonly resourceServer?: cognito.UserPoolResourceServer;
  readonly domain?: cognito.UserPoolDomain;
  readonly appClients: Readonly<Record<string, cognito.UserPoolClient>> = {};
  readonly authorizerFunction?: ApiFunction;
  /** The OAuth token endpoint of the user pool (cognito mode). */
  readonly tokenUrl?: string;

  constructor(scope: Construct, id: string, props: ApiAuthProps) {
    super(scope, id);
    const settings = props.settings;
    this.mode = settings.mode;

    if (settings.mode === 'cognito') {
      const pool = new cognito.UserPool(this, 'UserPool', {
        userPoolName: `${props.prefix}-api`,
        // Machine clients only: nobody signs up, signs in with a password or recovers an account.
        selfSignUpEnabled: false,
        signInAliases: { username: true },
        accountRecovery: cognito.AccountRecovery.NONE,
        // No user ever exists, so these never apply; they are set so a user added by hand
        // could not be a weak one.
        mfa: cognito.Mfa.REQUIRED,
        mfaSecondFactor: { otp: true, sms: false },
        passwordPolicy: { minLength: 16, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true, tempPasswordValidity: Duration.days(1) },
        featurePlan: cognito.FeaturePlan.ESSENTIALS,
        // Deleting the pool would invalidate every client's credentials at once.
        deletionProtection: true,
      });
      Validations.of(pool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason:
          "The pool holds only machine clients using the client-credentials grant: no user ever signs in, so the Plus tier's threat protection, which evaluates user sign-ins, would have nothing to inspect.",
      });

      const scopes = Object.fromEntries(
        SCOPES.map((s) => [s, new cognito.ResourceServerScope({ scopeName: s, scopeDescription: `the routes of scope ${s} (lib/core/api/routes.ts)` })]),
      ) as Record<Scope, cognito.ResourceServerScope>;
      const resourceServer = pool.addResourceServer('ResourceServer', {
        identifier: SCOPE_RESOURCE_SERVER,
        userPoolResourceServerName: `${props.prefix} API`,
        scopes: SCOPES.map((s) => scopes[s]),
      });

      const domain = pool.addDomain('Domain', {
        cognitoDomain: { domainPrefix: settings.domainPrefix ?? `${props.prefix}-${Aws.ACCOUNT_ID}` },
      });

      const clients: Record<string, cognito.UserPoolClient> = {};
      for (const client of props.clients) {
        const appClient = pool.addClient(`${pascal(client.name)}Client`, {
          userPoolClientName: `${props.prefix}-${client.name}`,
          generateSecret: true,
          // No user flows: the client-credentials grant at the token endpoint is the only way in.
          authFlows: { userPassword: false, userSrp: false, adminUserPassword: false, custom: false, user: false },
          oAuth: {
            flows: { clientCredentials: true },
            scopes: client.scopes.map((s) => cognito.OAuthScope.resourceServer(resourceServer, scopes[s])),
          },
          supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
          accessTokenValidity: Duration.minutes(settings.accessTokenValidityMinutes),
          enableTokenRevocation: true,
          preventUserExistenceErrors: true,
        });
        clients[client.name] = appClient;
        new CfnOutput(this, `${pascal(client.name)}ClientId`, {
          description: `Cognito app client id of client ${client.name}; its secret: aws cognito-idp describe-user-pool-client`,
          value: appClient.userPoolClientId,
        });
      }

      this.userPool = pool;
      this.resourceServer = resourceServer;
      this.domain = domain;
      this.appClients = clients;
      this.tokenUrl = `${domain.baseUrl()}/oauth2/token`;
      this.authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', {
        authorizerName: `${props.prefix}-cognito`,
        cognitoUserPools: [pool],
        identitySource: apigw.IdentitySource.header('Authorization'),
      });
      new CfnOutput(this, 'UserPoolId', { description: 'The Cognito user pool of the API clients', value: pool.userPoolId });
      new CfnOutput(this, 'TokenUrl', { description: 'OAuth token endpoint: POST grant_type=client_credentials with the app client id and secret', value: this.tokenUrl });
    } else {
      const fn = new ApiFunction(this, 'AuthorizerFunction', {
        handlerName: 'authorizer',
        description: "verifies bearer JWTs against the OIDC issuer's JWKS",
        entry: props.authorizerFunction.entry,
        environment: { [ENV.oidcIssuer]: settings.issuer, [ENV.oidcAudience]: settings.audience, [ENV.oidcJwksUrl]: settings.jwksUrl },
        memorySize: props.authorizerFunction.memorySize,
        timeout: props.authorizerFunction.timeout,
        logRetention: props.authorizerFunction.logRetention,
        logLevel: props.authorizerFunction.logLevel,
        tracing: props.authorizerFunction.tracing,
      });
      this.authorizerFunction = fn;
      this.authorizer = new apigw.TokenAuthorizer(this, 'Authorizer', {
        authorizerName: `${props.prefix}-oidc`,
        handler: fn.lambdaFunction,
        identitySource: apigw.IdentitySource.header('Authorization'),
        validationRegex: BEARER_TOKEN_PATTERN,
        // The answer is cached per token; it allows every route the token's scopes open (not only
        // the one called), so a cached answer is right for the token's later requests too.
        resultsCacheTtl: Duration.seconds(settings.resultsCacheSeconds),
      });
    }
  }

  /** The authorization of a method serving a route of `scope`. */
  forScope(scope: Scope): MethodAuthorization {
    if (this.authorizer instanceof apigw.CognitoUserPoolsAuthorizer) {
      return { authorizer: this.authorizer, authorizationType: apigw.AuthorizationType.COGNITO, authorizationScopes: [`${SCOPE_RESOURCE_SERVER}/${scope}`] };
    }
    return { authorizer: this.authorizer, authorizationType: apigw.AuthorizationType.CUSTOM };
  }
}
