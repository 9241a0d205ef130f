export { Role, ROLES, isRole, roleAllows } from './roles.ts';
export { TOKEN_PREFIX, newToken, tokenHash } from './tokens.ts';
export { BOOTSTRAP_ADMIN, Principals, type Principal, type PrincipalInfo, type PrincipalStore } from './principals.ts';
