/**
 * Jest runs the pure front-end logic (no DOM, no JupyterLab) through ts-jest.
 */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  modulePathIgnorePatterns: [
    '<rootDir>/naavre_batch_ext/',
    '<rootDir>/ui-tests/'
  ],
  testRegex: 'src/.*/__tests__/.*\\.spec\\.ts$',
  transform: {
    '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }]
  }
};
