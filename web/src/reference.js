// Published figures the sample is compared with (geodata/reference/haitian-us-population-facts.csv):
// Haiti-born population by state, American Community Survey 2022 1-year estimates, as
// tabulated by the Center for Immigration Studies (fact sheet, 2024-04-10).

export const ACS_2022_HAITI_BORN = {
  total: 727000,
  states: [
    { fips: '12', postal: 'FL', name: 'Florida', value: 369000 },
    { fips: '36', postal: 'NY', name: 'New York', value: 113000 },
    { fips: '25', postal: 'MA', name: 'Massachusetts', value: 63000 },
    { fips: '34', postal: 'NJ', name: 'New Jersey', value: 46000 },
    { fips: '13', postal: 'GA', name: 'Georgia', value: 28000 },
    { fips: '09', postal: 'CT', name: 'Connecticut', value: 14000 },
  ],
};
